using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Execution;
using FunctionSdk.Functions;
using FunctionSdk.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace FunctionSdk.Testing;

/// <summary>
/// Runs durable functions in the test's process, without a platform and without HTTP: it plays the platform's part
/// (the execution loop of the Inngest protocol, in memory) and calls the functions through the same engine the
/// endpoint of <c>MapDurableFunctions</c> uses. Time is fake: durable sleeps end at once, waits for events time out
/// when the test moves the clock.
/// </summary>
/// <remarks>
/// <para>What the host does as the platform would: stores each step's result and replays the function with the stored
/// results; runs parallel steps (<c>Task.WhenAll</c>) as planned steps, one after the other; retries a failing step
/// or function up to the function's retry count (4 retries by default) with no delay; starts every registered function
/// whose trigger (name and <c>if</c> expression) matches an event sent by the test, by app code or by
/// <c>step.sendEvent</c>; resumes a <c>WaitForEventAsync</c> with the next matching event (name and CEL <c>if</c>
/// expression, <c>event</c> being the run's triggering event and <c>async</c> the candidate); runs invoked functions
/// and hands back their result; ignores a second event with an id it has seen.</para>
/// <para>Every operation of the host (<c>SendAsync</c>, <c>AdvanceTimeAsync</c>, ...) drives all runs as far as they
/// can go before it returns, so a test reads <see cref="TestRun.Status"/> and <see cref="TestRun.Steps"/> right after.
/// Side effects of steps happen for real in the test's services (register fakes in
/// <see cref="DurableTestHostBuilder.Services"/>), at least once, exactly as on the platform: a retried step runs
/// its body again with the same <see cref="StepContext.IdempotencyKey"/>.</para>
/// <para>Not covered: <c>onFailure</c> handlers, cancellation, flow control (concurrency, throttling, debounce,
/// batching), and true concurrency of parallel steps (they run one after the other, in the order they were
/// planned).</para>
/// </remarks>
public sealed class DurableTestHost : IAsyncDisposable
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly JsonElement s_null = JsonDocument.Parse("null").RootElement;

    private readonly ServiceProvider _services;
    private readonly FunctionCatalog _catalog;
    private readonly FakeTimeProvider _clock;
    private readonly EventExpressions _expressions = new();
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly AsyncLocal<bool> _driving = new();
    private readonly List<TestRun> _runs = [];
    private readonly List<TestEvent> _events = [];
    private readonly HashSet<string> _eventIds = new(StringComparer.Ordinal);
    private readonly ExecutionSettings _settings;
    private readonly ILoggerFactory _loggers;
    private readonly bool _skipSleeps;
    private readonly int _maxCalls;

    internal DurableTestHost(ServiceProvider services, FunctionCatalog catalog, FakeTimeProvider clock, DurableTestHostBuilder builder)
    {
        _services = services;
        _catalog = catalog;
        _clock = clock;
        _skipSleeps = builder.SkipSleeps;
        _maxCalls = builder.MaxCallsPerOperation;
        AppId = builder.AppId;
        _loggers = services.GetRequiredService<ILoggerFactory>();
        _settings = new ExecutionSettings(AppId, Json, clock, services.GetRequiredService<IEventSender>(), builder.StepNotFoundTimeout);
        foreach (var function in catalog.All)
        {
            foreach (var expression in function.Triggers.Select(t => t.ExpressionIn(AppId)).OfType<string>())
            {
                if (_expressions.Validate(expression) is { } problem)
                {
                    throw new InvalidOperationException(
                        $"The trigger expression `{expression}` of function \"{function.Id}\" does not compile: {problem}");
                }
            }
        }
    }

    /// <summary>The app id the functions are registered under.</summary>
    public string AppId { get; }

    /// <summary>The host's services (the functions' dependencies, the <see cref="IEventSender"/> that sends to this host).</summary>
    public IServiceProvider Services => _services;

    /// <summary>The host's clock, a <c>FakeTimeProvider</c>, also registered as the services' <see cref="System.TimeProvider"/>.</summary>
    public TimeProvider TimeProvider => _clock;

    /// <summary>The host's current time.</summary>
    public DateTimeOffset UtcNow => _clock.GetUtcNow();

    /// <summary>Every run, in the order they started.</summary>
    public IReadOnlyList<TestRun> Runs => _runs.ToList();

    /// <summary>Every event received (from the test, from app code, from steps), in order; duplicates by id excluded.</summary>
    public IReadOnlyList<TestEvent> Events => _events.ToList();

    /// <summary>Starts setting up a host.</summary>
    /// <returns>A builder for services, configuration, functions and the clock.</returns>
    public static DurableTestHostBuilder CreateBuilder() => new();

    /// <summary>The run with this id.</summary>
    /// <param name="runId">The run id.</param>
    /// <returns>The run.</returns>
    /// <exception cref="KeyNotFoundException">No such run.</exception>
    public TestRun GetRun(string runId) =>
        _runs.Find(r => r.Id == runId) ?? throw new KeyNotFoundException($"The host has no run \"{runId}\".");

    /// <summary>
    /// Sends a typed event (named by its <see cref="EventNameAttribute"/>), then drives every run as far as it goes.
    /// </summary>
    /// <typeparam name="T">A type carrying <see cref="EventNameAttribute"/>.</typeparam>
    /// <param name="data">The event's data.</param>
    /// <param name="id">An optional event id; a second event with the same id is ignored, as on the platform.</param>
    /// <param name="cancellationToken">Cancels the drive.</param>
    /// <returns>The runs the event started (none when no trigger matches, or for a duplicate).</returns>
    public Task<IReadOnlyList<TestRun>> SendAsync<T>(T data, string? id = null, CancellationToken cancellationToken = default)
        where T : notnull =>
        SendAsync([EventMessage.From(data, id)], cancellationToken);

    /// <summary>Sends events, then drives every run as far as it goes.</summary>
    /// <param name="events">The events; each needs a name, and data that serializes to a JSON object (or null).</param>
    /// <param name="cancellationToken">Cancels the drive.</param>
    /// <returns>The runs the events started.</returns>
    public async Task<IReadOnlyList<TestRun>> SendAsync(IReadOnlyList<EventMessage> events, CancellationToken cancellationToken = default)
    {
        var (_, runs) = await ReceiveAsync(events, cancellationToken).ConfigureAwait(false);
        return runs;
    }

    /// <summary>
    /// Starts a function directly, as <c>InvokeAsync</c> from another function would (its event is
    /// <c>inngest/function.invoked</c> with <paramref name="data"/> as <c>data</c>), then drives every run.
    /// </summary>
    /// <param name="functionId">The function id (without the app id).</param>
    /// <param name="data">The event's data; an object, or null for <c>{}</c>.</param>
    /// <param name="cancellationToken">Cancels the drive.</param>
    /// <returns>The run.</returns>
    /// <exception cref="ArgumentException">No function has this id.</exception>
    public Task<TestRun> InvokeAsync(string functionId, object? data, CancellationToken cancellationToken = default)
    {
        var function = Find(functionId);
        return StartAndDriveAsync(() => StartRun(function, InvokedEvent(function, data, null), null), cancellationToken);
    }

    /// <summary>
    /// Fires a cron-triggered function now, as the platform does on its schedule (event <c>inngest/scheduled.timer</c>),
    /// then drives every run.
    /// </summary>
    /// <param name="functionId">The function id (without the app id).</param>
    /// <param name="cancellationToken">Cancels the drive.</param>
    /// <returns>The run.</returns>
    /// <exception cref="ArgumentException">No function has this id, or it has no cron trigger.</exception>
    public Task<TestRun> TriggerCronAsync(string functionId, CancellationToken cancellationToken = default)
    {
        var function = Find(functionId);
        var cron = function.Triggers.FirstOrDefault(t => t.Cron is not null)?.Cron ?? throw new ArgumentException(
            $"The function \"{functionId}\" has no cron trigger.", nameof(functionId));
        var @event = EventJson(FunctionTrigger.ScheduledTimerEvent, new JsonObject { ["cron"] = cron }, NewId(), UtcNow);
        return StartAndDriveAsync(() => StartRun(function, @event, null), cancellationToken);
    }

    /// <summary>
    /// Moves the clock forward: sleeps that end and waits for events that expire (their step returns null) and
    /// invokes that time out take effect in time order, each run going as far as it can in between.
    /// </summary>
    /// <param name="duration">How far to move the clock; not negative.</param>
    /// <param name="cancellationToken">Cancels the drive.</param>
    /// <returns>A task that completes once every run has gone as far as it can.</returns>
    public async Task AdvanceTimeAsync(TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var target = UtcNow + duration;
            await DriveAsync(cancellationToken).ConfigureAwait(false);
            while (NextDue() is { } due && due <= target)
            {
                MoveClockTo(due);
                await DriveAsync(cancellationToken).ConfigureAwait(false);
            }

            MoveClockTo(target);
            await DriveAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Drives every run as far as it can go without new events or moving the clock (beyond skipped sleeps).</summary>
    /// <param name="cancellationToken">Cancels the drive.</param>
    /// <returns>A task that completes once every run has gone as far as it can.</returns>
    public async Task RunUntilIdleAsync(CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await DriveAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _services.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    /// <summary>
    /// Receives events from the test, from app code or from a step: stores them, starts the runs they trigger and
    /// resumes the waits they match. From inside a call (a step sending) it only records; the drive in progress
    /// picks the new work up.
    /// </summary>
    internal async Task<(IReadOnlyList<string> Ids, IReadOnlyList<TestRun> Runs)> ReceiveAsync(
        IReadOnlyList<EventMessage> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        var prepared = Prepare(events);
        if (_driving.Value)
        {
            return Ingest(prepared);
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var result = Ingest(prepared);
            await DriveAsync(cancellationToken).ConfigureAwait(false);
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task EnterAsync(CancellationToken cancellationToken)
    {
        if (_driving.Value)
        {
            throw new InvalidOperationException(
                "The test host cannot be driven from inside a function or step; send events with IEventSender instead.");
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<TestRun> StartAndDriveAsync(Func<TestRun> start, CancellationToken cancellationToken)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var run = start();
            await DriveAsync(cancellationToken).ConfigureAwait(false);
            return run;
        }
        finally
        {
            _gate.Release();
        }
    }

    private RegisteredFunction Find(string functionId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(functionId);
        return _catalog.FindBySlug(AppId, $"{AppId}-{functionId}") ?? throw new ArgumentException(
            $"No function \"{functionId}\" is registered; registered: {string.Join(", ", _catalog.All.Select(f => $"\"{f.Id}\""))}.",
            nameof(functionId));
    }

    private List<JsonElement> Prepare(IReadOnlyList<EventMessage> events)
    {
        if (events.Count == 0)
        {
            throw new ArgumentException("Send at least one event.", nameof(events));
        }

        var prepared = new List<JsonElement>();
        foreach (var message in events)
        {
            if (string.IsNullOrWhiteSpace(message?.Name))
            {
                throw new ArgumentException("Every event needs a name.", nameof(events));
            }

            var data = message.Data is null ? new JsonObject() : JsonSerializer.SerializeToNode(message.Data, message.Data.GetType(), Json);
            if (data is not JsonObject)
            {
                throw new ArgumentException($"The data of event \"{message.Name}\" must serialize to a JSON object.", nameof(events));
            }

            prepared.Add(EventJson(message.Name, data, message.Id ?? NewId(), message.Timestamp ?? UtcNow));
        }

        return prepared;
    }

    private (IReadOnlyList<string> Ids, IReadOnlyList<TestRun> Runs) Ingest(List<JsonElement> events)
    {
        var ids = new List<string>();
        var started = new List<TestRun>();
        foreach (var @event in events)
        {
            var id = @event.GetProperty("id").GetString()!;
            ids.Add(id);
            if (!_eventIds.Add(id))
            {
                continue; // A duplicate: the platform starts nothing for it and resumes nothing.
            }

            var name = @event.GetProperty("name").GetString()!;
            _events.Add(new TestEvent(id, name, @event.GetProperty("data").Clone(), DateTimeOffset.FromUnixTimeMilliseconds(@event.GetProperty("ts").GetInt64())));
            foreach (var function in _catalog.All)
            {
                if (function.Triggers.Any(t => t.Cron is null && t.Admits(name) &&
                                               (t.ExpressionIn(AppId) is not { } expression || _expressions.IsTrue(expression, @event, null))))
                {
                    started.Add(StartRun(function, @event, null));
                }
            }

            foreach (var run in _runs.Where(r => r.Finished is null).ToList())
            {
                foreach (var wait in run.Items.Where(i => i.Kind == PendingKind.Wait && i.EventName == name).ToList())
                {
                    if (wait.Expression is null || _expressions.IsTrue(wait.Expression, run.EventJson, @event))
                    {
                        run.Items.Remove(wait);
                        run.Store(wait.HashedId, wait.Id, TestStepKind.WaitForEvent, @event);
                        AfterProgress(run);
                    }
                }
            }
        }

        return (ids, started);
    }

    private TestRun StartRun(RegisteredFunction function, JsonElement @event, InvokeParent? parent)
    {
        var run = new TestRun(this, NewId(), function, @event, (function.Retries ?? 4) + 1, parent);
        _runs.Add(run);
        return run;
    }

    /// <summary>The loop of the platform's executor (protocol.md §12): call, apply the reply, repeat.</summary>
    private async Task DriveAsync(CancellationToken cancellationToken)
    {
        _driving.Value = true;
        var calls = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            FireDueTimers();
            var next = _runs.Where(r => r.Finished is null)
                .Select(r => (Run: r, Item: r.Items.Find(i => i.Kind is PendingKind.Discovery or PendingKind.Step)))
                .FirstOrDefault(x => x.Item is not null);
            if (next.Item is not null)
            {
                if (++calls > _maxCalls)
                {
                    throw new InvalidOperationException(
                        $"The host made {_maxCalls} calls without the runs settling; a function may loop forever ({next.Run}).");
                }

                await CallAsync(next.Run, next.Item, cancellationToken).ConfigureAwait(false);
                continue;
            }

            var sleep = _skipSleeps
                ? _runs.Where(r => r.Finished is null).SelectMany(r => r.Items).Where(i => i.Kind == PendingKind.Sleep).Min(i => i.DueAt)
                : null;
            if (sleep is { } wake)
            {
                MoveClockTo(wake);
                continue;
            }

            return;
        }
    }

    private async Task CallAsync(TestRun run, PendingItem called, CancellationToken cancellationToken)
    {
        run.Items.Remove(called);
        run.CallCount++;
        var request = new CallRequest
        {
            Event = run.EventJson,
            Events = [run.EventJson],
            Steps = new Dictionary<string, JsonElement>(run.Memos, StringComparer.Ordinal),
            Stack = run.Stack.ToList(),
            RunId = run.Id,
            Attempt = called.Attempt,
            MaxAttempts = run.MaxAttempts,
            DisableImmediateExecution = run.DisableImmediateExecution,
            RequestedStepId = called.Kind == PendingKind.Step ? called.HashedId : null,
        };

        CallResult result;
        var scope = _services.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            try
            {
                result = await FunctionEngine.ExecuteAsync(
                    run.Function,
                    request,
                    scope.ServiceProvider,
                    _settings,
                    _loggers.CreateLogger($"FunctionSdk.Functions.{run.Function.Id}"),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                run.Items.Insert(0, called);
                throw;
            }
            catch (Exception e)
            {
                // As the endpoint does: something failed around the function (not its own error); retry.
                result = new FunctionFailed(ErrorSerializer.Serialize(e), Final: false);
            }
        }

        switch (result)
        {
            case FunctionReturned returned:
                Finish(run, returned.Output is null ? s_null : JsonSerializer.SerializeToElement(returned.Output), error: null);
                break;
            case FunctionFailed failed:
                FailCall(run, called, JsonSerializer.SerializeToElement(failed.Error), failed.Final);
                break;
            case StepNotFound notFound:
                FailCall(run, called, Element(new JsonObject
                {
                    ["name"] = "StepNotFoundError",
                    ["message"] = notFound.Body["error"]?.DeepClone(),
                }), final: false);
                break;
            case OpsReturned ops:
                ApplyOps(run, called, ops);
                break;
        }
    }

    private void FailCall(TestRun run, PendingItem called, JsonElement error, bool final)
    {
        if (!final && called.Attempt + 1 < run.MaxAttempts)
        {
            run.Items.Add(called with { Attempt = called.Attempt + 1 });
            return;
        }

        Finish(run, output: null, error);
    }

    private void ApplyOps(TestRun run, PendingItem called, OpsReturned returned)
    {
        var ops = returned.Ops;
        if (ops.Count > 1)
        {
            run.DisableImmediateExecution = true;
        }

        var progressed = false;
        // Waits first, so that an event sent by a step planned in the same reply cannot race past its wait.
        foreach (var op in ops.OrderBy(o => o.Code == Op.WaitForEvent ? 0 : 1))
        {
            var known = run.Memos.ContainsKey(op.Id);
            var pending = run.Items.Any(i => i.HashedId == op.Id);
            var id = op.UserlandIndex is { } index ? $"{op.UserlandId}:{index}" : op.UserlandId;
            var kind = op.Opts["type"]?.GetValue<string>() == "step.sendEvent" ? TestStepKind.SendEvent : TestStepKind.Run;
            switch (op.Code)
            {
                case Op.StepRun:
                    CountAttempt(run, op.Id);
                    if (!known)
                    {
                        run.Store(op.Id, id, kind, Memo("data", op.Data));
                    }

                    run.Items.RemoveAll(i => i.HashedId == op.Id);
                    progressed = true;
                    break;

                case Op.StepError when returned.NoRetry != true && called.Attempt + 1 < run.MaxAttempts:
                    CountAttempt(run, op.Id);
                    run.Items.Add(called with { Attempt = called.Attempt + 1 });
                    break;

                case Op.StepError:
                case Op.StepFailed:
                    CountAttempt(run, op.Id);
                    if (!known)
                    {
                        run.Store(op.Id, id, kind, Memo("error", op.Error ?? op.Data));
                    }

                    run.Items.RemoveAll(i => i.HashedId == op.Id);
                    progressed = true;
                    break;

                case Op.StepPlanned when !known && !pending:
                    run.Items.Add(new PendingItem { Kind = PendingKind.Step, HashedId = op.Id, Id = id, StepKind = kind });
                    break;

                case Op.Sleep when !known && !pending:
                    if (TimeStrings.TryParseWakeTime(op.Name, UtcNow, out var wakeAt))
                    {
                        run.Items.Add(new PendingItem { Kind = PendingKind.Sleep, HashedId = op.Id, Id = id, StepKind = TestStepKind.Sleep, DueAt = wakeAt });
                    }
                    else
                    {
                        run.Store(op.Id, id, TestStepKind.Sleep, Memo("error", Error("InvalidSleepError", $"Cannot sleep for \"{op.Name}\".")));
                        progressed = true;
                    }

                    break;

                case Op.WaitForEvent when !known && !pending:
                    progressed |= RegisterWait(run, op, id);
                    break;

                case Op.InvokeFunction when !known && !pending:
                    progressed |= StartInvoke(run, op, id);
                    break;

                case Op.StepPlanned or Op.Sleep or Op.WaitForEvent or Op.InvokeFunction:
                    break; // Reported again while already pending or stored: nothing new.

                default:
                    if (!known)
                    {
                        run.Store(op.Id, id, kind, Memo("error", Error("UnsupportedOpError", $"The test host does not support the {op.Code} operation.")));
                        progressed = true;
                    }

                    break;
            }
        }

        if (progressed)
        {
            AfterProgress(run);
        }
    }

    private bool RegisterWait(TestRun run, Op op, string id)
    {
        var timeout = op.Opts["timeout"]?.GetValue<string>() ?? "";
        var expression = op.Opts["if"]?.GetValue<string>();
        string? problem = null;
        if (string.IsNullOrEmpty(op.Name) || !TimeStrings.TryParseDuration(timeout, out var wait))
        {
            problem = $"Cannot wait for event \"{op.Name}\" with timeout \"{timeout}\".";
        }
        else if (expression is not null && _expressions.Validate(expression) is { } error)
        {
            problem = $"The expression `{expression}` does not compile: {error}";
        }
        else
        {
            run.Items.Add(new PendingItem
            {
                Kind = PendingKind.Wait,
                HashedId = op.Id,
                Id = id,
                StepKind = TestStepKind.WaitForEvent,
                DueAt = UtcNow + wait,
                EventName = op.Name,
                Expression = expression,
            });
            return false;
        }

        run.Store(op.Id, id, TestStepKind.WaitForEvent, Memo("error", Error("InvalidWaitError", problem)));
        return true;
    }

    private bool StartInvoke(TestRun run, Op op, string id)
    {
        var slug = op.Opts["function_id"]?.GetValue<string>() ?? "";
        var function = _catalog.FindBySlug(AppId, slug);
        if (function is null)
        {
            run.Store(op.Id, id, TestStepKind.Invoke, Memo("error", Error("Error", $"could not find function with ID: {slug}")));
            return true;
        }

        DateTimeOffset? expires = null;
        if (op.Opts["timeout"]?.GetValue<string>() is { } timeout && TimeStrings.TryParseDuration(timeout, out var span))
        {
            expires = UtcNow + span;
        }

        var child = StartRun(function, InvokedEvent(function, op.Opts["payload"]?["data"], $"{run.Id}.{op.Id}"), new InvokeParent(run, op.Id));
        run.Items.Add(new PendingItem { Kind = PendingKind.Invoke, HashedId = op.Id, Id = id, StepKind = TestStepKind.Invoke, DueAt = expires, Child = child });
        return false;
    }

    /// <summary>After a step settled: once no planned step is left, discover what comes next (parallel wait mode).</summary>
    private static void AfterProgress(TestRun run)
    {
        if (run.Finished is null && !run.Items.Any(i => i.Kind is PendingKind.Discovery or PendingKind.Step))
        {
            run.Items.Add(PendingItem.Discovery(0));
            run.DisableImmediateExecution = false;
        }
    }

    private void Finish(TestRun run, JsonElement? output, JsonElement? error)
    {
        if (error is { } e)
        {
            run.Fail(TestError.From(e));
        }
        else
        {
            run.Complete(output);
        }

        if (run.Parent is { } parent && parent.Run.Finished is null &&
            parent.Run.Items.Find(i => i.Kind == PendingKind.Invoke && i.HashedId == parent.HashedId) is { } item)
        {
            parent.Run.Items.Remove(item);
            parent.Run.Store(item.HashedId, item.Id, TestStepKind.Invoke, error is { } failure ? Memo("error", failure) : Memo("data", output));
            AfterProgress(parent.Run);
        }

        // As the platform does (protocol.md §14.6): a run that failed for good sends inngest/function.failed (id = the
        // run id), which starts the function's failure handler; a run started by that event sends none.
        if (error is { } failed && run.Event.Name != FunctionTrigger.FailedEvent)
        {
            var runEvent = JsonNode.Parse(run.EventJson.GetRawText())!;
            Ingest([EventJson(FunctionTrigger.FailedEvent, new JsonObject
            {
                ["function_id"] = $"{AppId}-{run.Function.Id}",
                ["run_id"] = run.Id,
                ["error"] = JsonNode.Parse(failed.GetRawText()),
                ["event"] = runEvent,
                ["events"] = new JsonArray(runEvent.DeepClone()),
            }, run.Id, UtcNow)]);
        }
    }

    /// <summary>Ends the sleeps, waits and invokes whose time has come, earliest first.</summary>
    private void FireDueTimers()
    {
        var now = UtcNow;
        var due = _runs.Where(r => r.Finished is null)
            .SelectMany(r => r.Items.Where(i => i.Kind is PendingKind.Sleep or PendingKind.Wait or PendingKind.Invoke && i.DueAt <= now)
                .Select(i => (Run: r, Item: i)))
            .OrderBy(x => x.Item.DueAt)
            .ToList();
        foreach (var (run, item) in due)
        {
            if (run.Finished is not null || !run.Items.Remove(item))
            {
                continue;
            }

            var memo = item.Kind == PendingKind.Invoke
                ? Memo("error", Error("InngestInvokeTimeoutError", "Timed out waiting for invoked function to complete"))
                : s_null;
            run.Store(item.HashedId, item.Id, item.StepKind, memo);
            AfterProgress(run);
        }
    }

    private DateTimeOffset? NextDue() =>
        _runs.Where(r => r.Finished is null)
            .SelectMany(r => r.Items)
            .Where(i => i.Kind is PendingKind.Sleep or PendingKind.Wait or PendingKind.Invoke)
            .Min(i => i.DueAt);

    private void MoveClockTo(DateTimeOffset time)
    {
        if (time > UtcNow)
        {
            _clock.SetUtcNow(time);
        }
    }

    private static void CountAttempt(TestRun run, string hashedId) =>
        run.Attempts[hashedId] = run.Attempts.GetValueOrDefault(hashedId) + 1;

    private JsonElement InvokedEvent(RegisteredFunction function, object? data, string? correlationId)
    {
        var node = data as JsonNode ?? (data is null ? null : JsonSerializer.SerializeToNode(data, data.GetType(), Json));
        if (node is not (null or JsonObject))
        {
            throw new ArgumentException("The data of an invoke must serialize to a JSON object.", nameof(data));
        }

        var payload = (JsonObject?)node?.DeepClone() ?? [];
        var meta = new JsonObject { ["fn_id"] = $"{AppId}-{function.Id}" };
        if (correlationId is not null)
        {
            meta["correlation_id"] = correlationId;
        }

        payload["_inngest"] = meta;
        return EventJson(FunctionTrigger.InvokedEvent, payload, NewId(), UtcNow);
    }

    private static JsonElement EventJson(string name, JsonNode data, string id, DateTimeOffset timestamp) => Element(new JsonObject
    {
        ["name"] = name,
        ["data"] = data,
        ["id"] = id,
        ["ts"] = timestamp.ToUnixTimeMilliseconds(),
        ["user"] = new JsonObject(),
    });

    private string NewId() => Guid.CreateVersion7(UtcNow).ToString("N");

    private static JsonElement Memo(string property, JsonNode? value) => Element(new JsonObject { [property] = value?.DeepClone() });

    private static JsonElement Memo(string property, JsonElement? value) =>
        Element(new JsonObject { [property] = value is { } v ? JsonNode.Parse(v.GetRawText()) : null });

    private static JsonObject Error(string name, string message) => new()
    {
        ["name"] = name,
        ["message"] = message,
        ["stack"] = "",
        ["__serialized"] = true,
    };

    private static JsonElement Element(JsonNode node) => JsonSerializer.SerializeToElement(node);
}
