using System.Text.Json;
using Platform.Executor.Protocol;

namespace Platform.Executor.Runs;

/// <summary>Per-run limits and retry policy the state machine applies.</summary>
public sealed record RunPolicy(int MaxAttempts, TimeSpan RetryBaseDelay, TimeSpan RetryMaxDelay, int MaxSteps)
{
    /// <summary>Inngest's default: 4 retries, so 5 attempts.</summary>
    public const int DefaultRetries = 4;
}

/// <summary>What the shell should do next with a claimed run.</summary>
public abstract record Decision;

/// <summary>Call the app for each item (concurrently when there are several planned steps).</summary>
public sealed record CallDecision(IReadOnlyList<WorkItem> Items) : Decision;

/// <summary>
/// Timers are due or waits were satisfied. For every expired <see cref="WorkKind.Wait"/> the shell must first
/// consume the wait row (a concurrent event may have won it) and pass what it found to <see cref="RunStateMachine.Resolve"/>.
/// </summary>
public sealed record ResolveDecision(IReadOnlyList<WorkItem> Items) : Decision;

/// <summary>Nothing is due: release the run until <paramref name="Until"/>, showing <paramref name="Status"/>.</summary>
public sealed record SuspendDecision(DateTimeOffset Until, RunStatus Status) : Decision;

/// <summary>A step output to store (once) under the run.</summary>
public sealed record MemoWrite(string StepId, string Name, string? DisplayName, string Op, string OutputJson, int Attempts, DateTimeOffset? StartedAt);

/// <summary>A failed attempt to record in the run's history.</summary>
public sealed record AttemptLog(string StepId, string? StepName, int Attempt, string ErrorJson, DateTimeOffset? RetryAt);

/// <summary>The run ends.</summary>
public sealed record Completion(RunStatus Status, string? OutputJson, string? ErrorJson);

/// <summary>
/// The result of applying a reply or a resolution: the new state and the effects to commit atomically.
/// <paramref name="NewWaits"/> are the items that wait on something outside the run and must be registered with the
/// commit: a <see cref="WorkKind.Wait"/> (a wait row for ingest to match) or a <see cref="WorkKind.Invoke"/> (the
/// invoked run, its event and the wait row linking it to the step).
/// </summary>
public sealed record Transition(
    RunState State,
    IReadOnlyList<MemoWrite> Memos,
    IReadOnlyList<AttemptLog> Attempts,
    IReadOnlyList<WorkItem> NewWaits,
    Completion? Completion);

/// <summary>
/// The run state machine: pure functions from (state, memoized step ids, a reply, the time) to a new state and
/// effects. No I/O, no clock, no randomness of its own (jitter comes in as data), so every opcode and every
/// retry and failure path is unit-tested with plain values.
/// </summary>
public static class RunStateMachine
{
    /// <summary>Decides what is next for a run that holds the lease.</summary>
    public static Decision Next(RunState state, IReadOnlySet<string> memoized, DateTimeOffset now)
    {
        if (state.Items.Count == 0)
        {
            // Never expected for a live run; a discovery call is always a safe way to find out.
            return new CallDecision([WorkItem.Discovery(now)]);
        }

        var resolvable = state.Items
            .Where(i => i.Kind is WorkKind.Sleep or WorkKind.Wait or WorkKind.Invoke && (i.DueAt <= now || memoized.Contains(i.StepId)))
            .ToList();
        if (resolvable.Count > 0)
        {
            return new ResolveDecision(resolvable);
        }

        var due = state.Items.Where(i => i.Kind is WorkKind.Discovery or WorkKind.Step && i.DueAt <= now).ToList();
        if (due.Count > 0)
        {
            // A discovery is only ever pending alone (it is added once no planned step is left).
            return new CallDecision(due);
        }

        var until = state.Items.Min(i => i.DueAt);
        var status = state.Items.Any(i => i.Kind is WorkKind.Wait or WorkKind.Invoke) ? RunStatus.Waiting
            : state.Items.Any(i => i.Kind == WorkKind.Sleep) ? RunStatus.Sleeping
            : RunStatus.Running;
        return new SuspendDecision(until, status);
    }

    /// <summary>
    /// Resolves due sleeps and finished waits and invokes. Each item not memoized yet gets its timeout value
    /// (<c>null</c> for an elapsed sleep or a timed-out wait, the timeout error for an invoke); an item already
    /// memoized (a wait matched by an event, an invoked run that ended) writes nothing.
    /// </summary>
    public static Transition Resolve(RunState state, IReadOnlyList<WorkItem> items, IReadOnlySet<string> memoized, DateTimeOffset now)
    {
        var memos = new List<MemoWrite>();
        var remaining = state.Items.ToList();
        foreach (var item in items)
        {
            remaining.RemoveAll(i => i.StepId == item.StepId && i.Kind == item.Kind);
            if (!memoized.Contains(item.StepId))
            {
                memos.Add(item.Kind switch
                {
                    WorkKind.Sleep => new MemoWrite(item.StepId, item.Name ?? item.StepId, item.DisplayName, OpNames.Sleep, "null", 1, null),
                    WorkKind.Invoke => new MemoWrite(item.StepId, item.Name ?? item.StepId, item.DisplayName, OpNames.InvokeFunction, Invocation.TimeoutMemo, 1, null),
                    _ => new MemoWrite(item.StepId, item.Name ?? item.StepId, item.DisplayName, OpNames.WaitForEvent, "null", 1, null),
                });
            }
        }

        var next = state with { Items = remaining };
        next = AfterProgress(next, now);
        return new Transition(next, memos, [], [], null);
    }

    /// <summary>Applies the outcome of calling the app for <paramref name="called"/>.</summary>
    public static Transition Apply(
        RunState state,
        WorkItem called,
        CallOutcome outcome,
        IReadOnlySet<string> memoized,
        RunPolicy policy,
        DateTimeOffset startedAt,
        DateTimeOffset now,
        double jitter)
    {
        var items = state.Items.Where(i => !(i.Kind == called.Kind && i.StepId == called.StepId)).ToList();
        var current = state with { Items = items };

        switch (outcome)
        {
            case FunctionCompleted completed:
                return Final(current, Completed(completed.OutputJson));

            case CallFailed failed:
                return Failure(current, called, Storable(failed.ErrorJson), failed.Final, failed.RetryAfter, policy, now, jitter, failRun: true);

            case OpsReturned returned:
                return ApplyOps(current, called, returned, memoized, policy, startedAt, now, jitter);

            default:
                throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "unknown outcome");
        }
    }

    private static Transition ApplyOps(
        RunState state,
        WorkItem called,
        OpsReturned returned,
        IReadOnlySet<string> memoized,
        RunPolicy policy,
        DateTimeOffset startedAt,
        DateTimeOffset now,
        double jitter)
    {
        var ops = returned.Ops.Where(o => o.Name is not (OpNames.DeferAdd or OpNames.DeferAbort)).ToList();
        if (ops.Count == 0)
        {
            return Failure(state, called,
                ErrorJson.Create("ProtocolError", "The app answered 206 with no ops; expected at least one"),
                final: false, null, policy, now, jitter, failRun: true);
        }

        var duplicate = ops.Where(o => o.Id.Length > 0).GroupBy(o => o.Id).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            return Failure(state, called,
                ErrorJson.Create("ProtocolError", $"The app reported step {duplicate.Key} twice in one reply"),
                final: false, null, policy, now, jitter, failRun: true);
        }

        var items = state.Items.ToList();
        var memos = new List<MemoWrite>();
        var attempts = new List<AttemptLog>();
        var newWaits = new List<WorkItem>();
        var disableImmediate = state.DisableImmediateExecution || ops.Count > 1;
        var progressed = false;
        var calledResolved = called.Kind == WorkKind.Discovery;
        var retryScheduled = false;
        Completion? completion = null;

        bool known(string id) => memoized.Contains(id) || memos.Any(m => m.StepId == id);
        // The called step counts as pending: if its reply merely re-plans it, it must keep its attempt count.
        bool pending(string id) => items.Any(i => i.StepId == id) || (called.Kind != WorkKind.Discovery && called.StepId == id);

        // Waits first, so that a sendEvent reported in the same reply cannot race past its wait (protocol.md §12).
        foreach (var op in ops.OrderBy(o => o.Name == OpNames.WaitForEvent ? 0 : 1))
        {
            var attemptNo = called.StepId == op.Id || called.Kind == WorkKind.Discovery ? called.Attempt : 0;
            var opName = op.StepName ?? op.DisplayName ?? op.Id;
            switch (op.Name)
            {
                case OpNames.StepRun or OpNames.Step:
                    if (!known(op.Id))
                    {
                        var output = ErrorJsonOrData(op.DataJson, out var unstorable);
                        memos.Add(unstorable is null
                            ? new MemoWrite(op.Id, opName, op.DisplayName, OpNames.StepRun, output, attemptNo + 1, startedAt)
                            : new MemoWrite(op.Id, opName, op.DisplayName, OpNames.StepFailed,
                                ErrorJson.WrapError(ErrorJson.Create("UnstorableOutputError", $"The step's output contains {unstorable}")),
                                attemptNo + 1, startedAt));
                    }

                    items.RemoveAll(i => i.StepId == op.Id);
                    calledResolved |= op.Id == called.StepId;
                    progressed = true;
                    break;

                case OpNames.StepError:
                {
                    var error = Storable(op.ErrorJson ?? op.DataJson ?? ErrorJson.Create("Error", "The step failed without an error object"));
                    var canRetry = !returned.NoRetry && called.Attempt + 1 < policy.MaxAttempts;
                    if (canRetry)
                    {
                        var retryAt = RetryAt(called.Attempt, returned.RetryAfter, policy, now, jitter);
                        attempts.Add(new AttemptLog(op.Id, opName, called.Attempt, error, retryAt));
                        if (!retryScheduled)
                        {
                            // One retry of the call, however many step errors its reply holds.
                            items.Add(called with { Attempt = called.Attempt + 1, DueAt = retryAt, Name = called.Name ?? opName });
                        }

                        retryScheduled = true;
                        calledResolved = true;
                    }
                    else
                    {
                        attempts.Add(new AttemptLog(op.Id, opName, called.Attempt, error, null));
                        if (!known(op.Id))
                        {
                            memos.Add(new MemoWrite(op.Id, opName, op.DisplayName, OpNames.StepFailed, ErrorJson.WrapError(error), attemptNo + 1, startedAt));
                        }

                        items.RemoveAll(i => i.StepId == op.Id);
                        calledResolved |= op.Id == called.StepId;
                        progressed = true;
                    }

                    break;
                }

                case OpNames.StepFailed:
                {
                    var error = Storable(op.ErrorJson ?? op.DataJson ?? ErrorJson.Create("Error", "The step failed without an error object"));
                    attempts.Add(new AttemptLog(op.Id, opName, attemptNo, error, null));
                    if (!known(op.Id))
                    {
                        memos.Add(new MemoWrite(op.Id, opName, op.DisplayName, OpNames.StepFailed, ErrorJson.WrapError(error), attemptNo + 1, startedAt));
                    }

                    items.RemoveAll(i => i.StepId == op.Id);
                    calledResolved |= op.Id == called.StepId;
                    progressed = true;
                    break;
                }

                case OpNames.StepPlanned:
                    if (!known(op.Id) && !pending(op.Id))
                    {
                        items.Add(new WorkItem { Kind = WorkKind.Step, StepId = op.Id, Name = opName, DisplayName = op.DisplayName, DueAt = now });
                    }

                    break;

                case OpNames.Sleep:
                    if (!known(op.Id) && !pending(op.Id))
                    {
                        var spec = op.OptString("duration") ?? op.StepName;
                        if (TimeStrings.TryParseWakeTime(spec, now, out var wakeAt))
                        {
                            items.Add(new WorkItem { Kind = WorkKind.Sleep, StepId = op.Id, Name = op.DisplayName ?? spec, DisplayName = op.DisplayName, DueAt = wakeAt });
                        }
                        else
                        {
                            memos.Add(new MemoWrite(op.Id, op.DisplayName ?? op.Id, op.DisplayName, OpNames.StepFailed,
                                ErrorJson.WrapError(ErrorJson.Create("InvalidSleepError", $"Cannot sleep for '{spec}': expected a duration such as 30s or 1h, or an ISO-8601 time, at most 366 days away")),
                                1, startedAt));
                            progressed = true;
                        }
                    }

                    break;

                case OpNames.WaitForEvent:
                    if (!known(op.Id) && !pending(op.Id))
                    {
                        var eventName = op.OptString("event") ?? op.StepName;
                        var timeout = op.OptString("timeout") ?? "";
                        if (string.IsNullOrEmpty(eventName) || !TimeStrings.TryParseDuration(timeout, out var wait) || wait > TimeStrings.MaxDuration)
                        {
                            memos.Add(new MemoWrite(op.Id, op.DisplayName ?? op.Id, op.DisplayName, OpNames.StepFailed,
                                ErrorJson.WrapError(ErrorJson.Create("InvalidWaitError", $"Cannot wait for event '{eventName}' with timeout '{timeout}'")),
                                1, startedAt));
                            progressed = true;
                        }
                        else
                        {
                            var item = new WorkItem
                            {
                                Kind = WorkKind.Wait,
                                StepId = op.Id,
                                Name = op.DisplayName ?? eventName,
                                DisplayName = op.DisplayName,
                                DueAt = now + wait,
                                Event = eventName,
                                Expression = op.OptString("if"),
                            };
                            items.Add(item);
                            newWaits.Add(item);
                        }
                    }

                    break;

                case OpNames.InvokeFunction:
                    if (!known(op.Id) && !pending(op.Id))
                    {
                        var target = op.OptString("function_id");
                        var timeout = op.OptString("timeout");
                        var payload = op.Opt("payload");
                        var validTimeout = InvokeExpiry(timeout, now, out var expiry);
                        var invalid = string.IsNullOrEmpty(target) ? "opts.function_id: required, the slug of the function to invoke"
                            : Invocation.ValidatePayload(payload) is { } payloadError ? payloadError
                            : !validTimeout ? $"opts.timeout: cannot wait '{timeout}'; expected a duration such as 30s or 1h, at most 366 days"
                            : null;
                        if (invalid is not null)
                        {
                            memos.Add(new MemoWrite(op.Id, opName, op.DisplayName, OpNames.StepFailed,
                                ErrorJson.WrapError(ErrorJson.Create("InvalidInvokeError", $"Cannot invoke '{target}': {invalid}")),
                                1, startedAt));
                            progressed = true;
                        }
                        else
                        {
                            var item = new WorkItem
                            {
                                Kind = WorkKind.Invoke,
                                StepId = op.Id,
                                Name = op.DisplayName ?? opName,
                                DisplayName = op.DisplayName,
                                DueAt = expiry,
                                Function = target,
                            };
                            items.Add(item);
                            newWaits.Add(item with { Payload = payload is { ValueKind: not JsonValueKind.Null } p ? p.GetRawText() : null });
                        }
                    }

                    break;

                case OpNames.RunComplete:
                    completion = Completed(op.DataJson ?? "null");
                    break;

                case OpNames.DiscoveryRequest:
                    progressed = true;
                    break;

                default:
                    // AIGateway, Gateway, WaitForSignal, ...: fail the step clearly, so user code sees
                    // an error it can catch rather than a run that hangs.
                    if (!known(op.Id) && op.Id.Length > 0)
                    {
                        memos.Add(new MemoWrite(op.Id, opName, op.DisplayName, OpNames.StepFailed,
                            ErrorJson.WrapError(ErrorJson.Create("UnsupportedOpError", $"The platform does not support the {op.Name} operation yet")),
                            1, startedAt));
                        items.RemoveAll(i => i.StepId == op.Id);
                        progressed = true;
                    }

                    break;
            }

            if (completion is not null)
            {
                break;
            }
        }

        var next = state with { Items = items, DisableImmediateExecution = disableImmediate };
        if (completion is not null)
        {
            return new Transition(next with { Items = [] }, memos, attempts, [], completion);
        }

        if (called.Kind == WorkKind.Discovery && memos.Count == 0 && items.Count == 0 && !ops.Any(o => o.Name == OpNames.DiscoveryRequest))
        {
            // Nothing stored, nothing pending: the next discovery would get the same answer, forever.
            var noop = Failure(state, called,
                ErrorJson.Create("ProtocolError", "The app's reply to a discovery call reported only steps that are already stored"),
                final: false, null, policy, now, jitter, failRun: true);
            return noop with { Attempts = [.. attempts, .. noop.Attempts] };
        }

        if (!calledResolved && !retryScheduled)
        {
            // A step call whose reply does not settle that step: the app did not run what we asked for.
            var failure = Failure(next, called,
                ErrorJson.Create("ProtocolError", $"The app was asked to run step {called.StepId} but its reply did not include it"),
                final: false, null, policy, now, jitter, failRun: true);
            return failure with { Memos = [.. memos, .. failure.Memos], Attempts = [.. attempts, .. failure.Attempts] };
        }

        if (progressed)
        {
            next = AfterProgress(next, now);
        }

        if (memoized.Count + memos.Count > policy.MaxSteps)
        {
            return new Transition(next with { Items = [] }, memos, attempts, [], new Completion(RunStatus.Failed, null,
                ErrorJson.Create("StepLimitError", $"The run exceeded the limit of {policy.MaxSteps} steps")));
        }

        return new Transition(next, memos, attempts, newWaits, null);
    }

    /// <summary>
    /// The shell found no active function for an invoke of <paramref name="transition"/>: instead of starting a run,
    /// the step resolves at once to the "could not find function" error and the run goes on.
    /// </summary>
    public static Transition InvokeTargetMissing(Transition transition, WorkItem invoke, DateTimeOffset now)
    {
        var state = transition.State with { Items = transition.State.Items.Where(i => !(i.Kind == WorkKind.Invoke && i.StepId == invoke.StepId)).ToList() };
        var memo = new MemoWrite(invoke.StepId, invoke.Name ?? invoke.StepId, invoke.DisplayName, OpNames.InvokeFunction,
            Invocation.NotFoundMemo(invoke.Function ?? ""), 1, null);
        return transition with
        {
            State = AfterProgress(state, now),
            Memos = [.. transition.Memos, memo],
            NewWaits = transition.NewWaits.Where(w => !(w.Kind == WorkKind.Invoke && w.StepId == invoke.StepId)).ToList(),
        };
    }

    /// <summary>After a step settled: once no planned step is left, discover what comes next (wait mode, §13).</summary>
    private static RunState AfterProgress(RunState state, DateTimeOffset now)
    {
        if (state.Items.Any(i => i.Kind is WorkKind.Step or WorkKind.Discovery))
        {
            return state;
        }

        return state with { Items = [.. state.Items, WorkItem.Discovery(now)], DisableImmediateExecution = false };
    }

    private static Transition Failure(
        RunState state,
        WorkItem called,
        string errorJson,
        bool final,
        RetryAfter? retryAfter,
        RunPolicy policy,
        DateTimeOffset now,
        double jitter,
        bool failRun)
    {
        if (!final && called.Attempt + 1 < policy.MaxAttempts)
        {
            var retryAt = RetryAt(called.Attempt, retryAfter, policy, now, jitter);
            var retried = state with { Items = [.. state.Items, called with { Attempt = called.Attempt + 1, DueAt = retryAt }] };
            return new Transition(retried, [], [new AttemptLog(called.StepId, called.Name, called.Attempt, errorJson, retryAt)], [], null);
        }

        var log = new AttemptLog(called.StepId, called.Name, called.Attempt, errorJson, null);
        return failRun
            ? new Transition(state with { Items = [] }, [], [log], [], new Completion(RunStatus.Failed, null, errorJson))
            : new Transition(state, [], [log], [], null);
    }

    /// <summary>The run's output, unless PostgreSQL's jsonb cannot store it (NUL, unpaired surrogates).</summary>
    private static Completion Completed(string outputJson) =>
        JsonSafety.FindUnstorable(outputJson) is { } bad
            ? new Completion(RunStatus.Failed, null, ErrorJson.Create("UnstorableOutputError", $"The function's output contains {bad}"))
            : new Completion(RunStatus.Completed, outputJson, null);

    /// <summary>An error to store; one jsonb cannot hold is replaced, or the commit would fail on every retry.</summary>
    private static string Storable(string errorJson) =>
        JsonSafety.FindUnstorable(errorJson) is { } bad
            ? ErrorJson.Create("UnstorableOutputError", $"The app reported an error that contains {bad}")
            : errorJson;

    private static Transition Final(RunState state, Completion completion) =>
        new(state with { Items = [] }, [], [], [], completion);

    /// <summary>When an invoke stops waiting: <c>opts.timeout</c> from now, or a year without one (Go).</summary>
    private static bool InvokeExpiry(string? timeout, DateTimeOffset now, out DateTimeOffset expiry)
    {
        expiry = Invocation.DefaultExpiry(now);
        if (string.IsNullOrEmpty(timeout))
        {
            return true;
        }

        if (!TimeStrings.TryParseDuration(timeout, out var span) || span > TimeStrings.MaxDuration)
        {
            return false;
        }

        expiry = now + span;
        return true;
    }

    /// <summary>Exponential backoff with jitter, or exactly what <c>Retry-After</c> asked (never earlier).</summary>
    public static DateTimeOffset RetryAt(int attempt, RetryAfter? retryAfter, RunPolicy policy, DateTimeOffset now, double jitter)
    {
        if (retryAfter is not null)
        {
            return retryAfter.Resolve(now);
        }

        var exponential = policy.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30));
        var capped = Math.Min(exponential, policy.RetryMaxDelay.TotalMilliseconds);
        // Full jitter on the upper half: between 50% and 100% of the capped delay.
        var delay = capped * (0.5 + (0.5 * Math.Clamp(jitter, 0, 1)));
        return now + TimeSpan.FromMilliseconds(delay);
    }

    private static string ErrorJsonOrData(string? dataJson, out string? unstorable)
    {
        var data = dataJson ?? "null";
        unstorable = JsonSafety.FindUnstorable(data);
        return ErrorJson.WrapData(data);
    }
}
