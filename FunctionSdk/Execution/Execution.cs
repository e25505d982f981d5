using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Protocol;

namespace FunctionSdk.Execution;

/// <summary>
/// One call of one function: replays the function on an <see cref="ExecutionPump"/>, hands it the stored step
/// results in completion order, and once the function is idle and blocked on steps that are not stored,
/// decides: run the one new step now, run the requested step, or report the new steps.
/// </summary>
/// <remarks>
/// The loop, as in the JS SDK: drain the function's continuations; if it finished, that is the result;
/// otherwise resolve the next stored step that the function has reached (earliest in the stack first), one
/// at a time, draining in between; when none is left, look at the steps found that are not stored. A step
/// that is not stored never completes in this call: the function is suspended by being abandoned, not by an
/// exception.
/// </remarks>
internal sealed class Execution
{
    private static readonly AsyncLocal<bool> s_insideStepBody = new();

    private readonly Lock _lock = new();
    private readonly ExecutionPump _pump = new();
    private readonly CallRequest _request;
    private readonly ExecutionSettings _settings;
    private readonly List<FoundStep> _found = [];
    private readonly Dictionary<string, FoundStep> _foundByHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _expectedIndexes = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _remainingOrder;
    private int _remainingCount;
    private bool _closed;

    public Execution(CallRequest request, ExecutionSettings settings)
    {
        _request = request;
        _settings = settings;
        _remainingOrder = new LinkedList<string>(request.Stack.Where(request.Steps.ContainsKey).Distinct(StringComparer.Ordinal));
        _remainingCount = _remainingOrder.Count;
    }

    /// <summary>True while stored steps remain to be handed to the function (it is replaying).</summary>
    public bool IsReplaying => Volatile.Read(ref _remainingCount) > 0;

    public CallRequest Request => _request;

    public ExecutionSettings Settings => _settings;

    public async Task<CallResult> RunAsync(Func<Task<JsonNode?>> function, CancellationToken cancellationToken)
    {
        try
        {
            var task = _pump.Run(() =>
            {
                try
                {
                    return function();
                }
                catch (Exception e)
                {
                    return Task.FromException<JsonNode?>(e);
                }
            });
            _ = task.ContinueWith(
                static (_, pump) => ((ExecutionPump)pump!).Signal(),
                _pump,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);

            long? notFoundDeadline = null;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _pump.RunPending();
                if (task.IsCompleted)
                {
                    return Finish(task, cancellationToken);
                }

                FoundStep? toResolve;
                List<FoundStep> newSteps;
                lock (_lock)
                {
                    toResolve = NextStoredInOrder();
                    newSteps = toResolve is null ? _found.Where(s => !s.Stored).ToList() : [];
                    if (toResolve is null && (newSteps.Count == 0 || _request.RequestedStepId is not null))
                    {
                        // Stored steps that are not in the stack (a platform that sent no stack entry for them).
                        toResolve = _found.FirstOrDefault(s => s.Stored && !s.Resolved);
                    }

                    if (toResolve is not null)
                    {
                        toResolve.Resolved = true;
                    }
                }

                if (toResolve is not null)
                {
                    _pump.Run(() =>
                    {
                        toResolve.Resolve(toResolve.Memo);
                        return true;
                    });
                    continue;
                }

                if (newSteps.Count > 0)
                {
                    if (_request.RequestedStepId is { } requested)
                    {
                        var target = newSteps.Find(s => s.HashedId == requested);
                        if (target is not null)
                        {
                            return await ExecuteStepAsync(target, cancellationToken).ConfigureAwait(false);
                        }

                        notFoundDeadline ??= Stopwatch.GetTimestamp() + (long)(_settings.StepNotFoundTimeout.TotalSeconds * Stopwatch.Frequency);
                    }
                    else if (!_request.DisableImmediateExecution && newSteps.Count == 1 && newSteps[0].Body is not null)
                    {
                        return await ExecuteStepAsync(newSteps[0], cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        return new OpsReturned(newSteps.Select(Report).ToList());
                    }
                }

                // Nothing to do until the function moves: it awaits something that is not a step (a timer, I/O).
                var timeout = Timeout.InfiniteTimeSpan;
                if (notFoundDeadline is { } deadline)
                {
                    timeout = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                    if (timeout <= TimeSpan.Zero)
                    {
                        return NotFound(newSteps);
                    }
                }

                if (!await _pump.WaitAsync(timeout, cancellationToken).ConfigureAwait(false))
                {
                    return NotFound(newSteps);
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _closed = true;
            }

            _pump.Close();
        }
    }

    /// <summary>
    /// Called by the step tools: numbers a repeated id, hashes it, and returns a task that completes only
    /// when the engine hands over the stored result.
    /// </summary>
    public Task<T> Register<T>(StepDescriptor descriptor, Func<string, JsonElement, T> interpret)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(descriptor.Id);
        if (s_insideStepBody.Value)
        {
            throw new InvalidOperationException(
                $"Step \"{descriptor.Id}\" was started inside the body of another step. Steps cannot be nested: " +
                "start it from the function body instead.");
        }

        var completion = new TaskCompletionSource<T>();
        FoundStep step;
        lock (_lock)
        {
            if (_closed)
            {
                // The call is over; the function was abandoned and this task never completes.
                return completion.Task;
            }

            var (finalId, index) = ResolveCollision(descriptor.Id);
            var hashed = StepIds.Hash(finalId);
            step = new FoundStep(descriptor, finalId, index, hashed, memo =>
            {
                try
                {
                    completion.SetResult(interpret(descriptor.Id, memo));
                }
                catch (Exception e)
                {
                    completion.SetException(e);
                }
            });

            if (_request.Steps.TryGetValue(hashed, out var memo))
            {
                step.Stored = true;
                step.Memo = memo;
            }

            _found.Add(step);
            _foundByHash[hashed] = step;
        }

        _pump.Signal();
        return completion.Task;
    }

    private (string Id, int? Index) ResolveCollision(string baseId)
    {
        // The JS SDK's resolveStepIdCollision: the first use keeps the id, later ones get ":1", ":2", ...
        // skipping any indexed id that is already taken.
        if (!_foundByHash.ContainsKey(StepIds.Hash(baseId)) && !_expectedIndexes.ContainsKey(baseId))
        {
            _expectedIndexes[baseId] = 1;
            return (baseId, null);
        }

        var next = _expectedIndexes.GetValueOrDefault(baseId, 1);
        var max = next + _foundByHash.Count + 1;
        for (var i = next; i < max; i++)
        {
            var indexed = $"{baseId}:{i}";
            if (!_foundByHash.ContainsKey(StepIds.Hash(indexed)))
            {
                _expectedIndexes[baseId] = i + 1;
                return (indexed, i);
            }
        }

        throw new InvalidOperationException($"Could not number the repeated step id \"{baseId}\".");
    }

    private FoundStep? NextStoredInOrder()
    {
        for (var node = _remainingOrder.First; node is not null; node = node.Next)
        {
            if (_foundByHash.TryGetValue(node.Value, out var step) && step.Stored && !step.Resolved)
            {
                _remainingOrder.Remove(node);
                Volatile.Write(ref _remainingCount, _remainingOrder.Count);
                return step;
            }
        }

        return null;
    }

    private CallResult Finish(Task<JsonNode?> task, CancellationToken cancellationToken)
    {
        if (task.IsCompletedSuccessfully)
        {
            return new FunctionReturned(task.Result);
        }

        if (task.IsCanceled)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        var error = task.Exception?.InnerException ?? new TaskCanceledException("The function was cancelled.");
        if (error is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            throw error;
        }

        // A stored step error that escaped the function is final: retrying replays the same error.
        var final = error is NonRetriableException or StepFailedException || _request.IsFinalAttempt;
        return new FunctionFailed(ErrorSerializer.Serialize(error), final, final ? null : RetryAfter(error));
    }

    private async Task<CallResult> ExecuteStepAsync(FoundStep step, CancellationToken cancellationToken)
    {
        var context = new StepContext(_request.RunId, step.FinalId, step.HashedId, _request.Attempt);
        var startedAt = _settings.TimeProvider.GetUtcNow();
        var started = Stopwatch.GetTimestamp();
        JsonNode? data;
        try
        {
            data = await Task.Run(
                () =>
                {
                    s_insideStepBody.Value = true;
                    return step.Descriptor.Body!(context, cancellationToken);
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            var timing = (Nanoseconds(startedAt), Stopwatch.GetElapsedTime(started).Ticks * 100);
            var final = e is NonRetriableException || _request.IsFinalAttempt;
            var op = Ran(step, timing) with
            {
                Code = final ? Op.StepFailed : Op.StepError,
                Error = ErrorSerializer.Serialize(e),
                Data = final ? ErrorSerializer.SerializeShort(e) : null,
            };
            return new OpsReturned([op], NoRetry: final, RetryAfter: final ? null : RetryAfter(e));
        }

        var ran = Ran(step, (Nanoseconds(startedAt), Stopwatch.GetElapsedTime(started).Ticks * 100)) with { Data = data };
        return new OpsReturned([ran]);
    }

    private static long Nanoseconds(DateTimeOffset instant) => instant.ToUnixTimeMilliseconds() * 1_000_000;

    private static Op Ran(FoundStep step, (long, long) timing) => new()
    {
        Id = step.HashedId,
        Code = Op.StepRun,
        Name = step.Descriptor.Name,
        DisplayName = step.Descriptor.Id,
        Opts = (JsonObject)step.Descriptor.Opts.DeepClone(),
        UserlandId = step.Descriptor.Id,
        UserlandIndex = step.Index,
        Timing = timing,
    };

    private static Op Report(FoundStep step) => new()
    {
        Id = step.HashedId,
        Code = step.Descriptor.Code,
        Name = step.Descriptor.Name,
        DisplayName = step.Descriptor.Id,
        Opts = (JsonObject)step.Descriptor.Opts.DeepClone(),
        UserlandId = step.Descriptor.Id,
        UserlandIndex = step.Index,
    };

    private StepNotFound NotFound(List<FoundStep> found)
    {
        var requested = _request.RequestedStepId!;
        var foundSteps = new JsonArray();
        foreach (var step in found)
        {
            foundSteps.Add(new JsonObject
            {
                ["id"] = step.HashedId,
                ["name"] = step.Descriptor.Name,
                ["displayName"] = step.Descriptor.Id,
            });
        }

        var names = string.Join(", ", found.Select(s => $"\"{s.FinalId}\""));
        return new StepNotFound(new JsonObject
        {
            ["error"] = $"Could not find step \"{requested}\" to run; timed out. Found new steps: {names}",
            ["requestedStep"] = requested,
            ["foundSteps"] = foundSteps,
            ["totalFoundSteps"] = found.Count,
        });
    }

    private static string? RetryAfter(Exception error) => error switch
    {
        RetryAfterException { Delay: { } delay } => ((long)Math.Ceiling(delay.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture),
        RetryAfterException { RetryAt: { } at } => TimeStrings.Instant(at),
        _ => null,
    };

    private sealed class FoundStep(StepDescriptor descriptor, string finalId, int? index, string hashedId, Action<JsonElement> resolve)
    {
        public StepDescriptor Descriptor { get; } = descriptor;

        public string FinalId { get; } = finalId;

        public int? Index { get; } = index;

        public string HashedId { get; } = hashedId;

        public Action<JsonElement> Resolve { get; } = resolve;

        public Func<StepContext, CancellationToken, Task<JsonNode?>>? Body => Descriptor.Body;

        public bool Stored { get; set; }

        public JsonElement Memo { get; set; }

        public bool Resolved { get; set; }
    }
}

/// <summary>What a step tool found: the op to report and, for a step that runs code, its body.</summary>
internal sealed record StepDescriptor(
    string Id,
    string Code,
    string? Name,
    JsonObject Opts,
    Func<StepContext, CancellationToken, Task<JsonNode?>>? Body);

/// <summary>What the engine needs besides the request.</summary>
internal sealed record ExecutionSettings(
    string AppId,
    JsonSerializerOptions Json,
    TimeProvider TimeProvider,
    IEventSender EventSender,
    TimeSpan StepNotFoundTimeout);
