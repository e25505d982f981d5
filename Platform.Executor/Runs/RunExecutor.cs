using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Executor.Events;
using Platform.Executor.Protocol;
using Platform.Executor.Scheduling;

namespace Platform.Executor.Runs;

/// <summary>
/// Drives one run through consecutive steps until it must wait (invariant 5): claim, then loop
/// { decide (pure) → call the app → apply (pure) → commit under the fence }, then release with a wake-up time.
///
/// If the process dies:
/// - before the claim commits: nothing happened; the queue or the sweeper hands the run out again.
/// - during a call to the app: the lease expires (TTL &gt; HTTP timeout), the sweeper re-dispatches, the step runs
///   again (at-least-once; the app deduplicates with the run id and step id).
/// - after the app answered, before the commit: same as above; the reply is lost, nothing half-written.
/// - after the commit, before scheduling the wake-up: <c>runs.next_wake_at</c> is stored, the sweeper re-dispatches.
/// A worker that lost its lease (cancel, takeover) fails its fenced commit and stops without writing.
/// </summary>
public sealed partial class RunExecutor(
    RunStore store,
    AppCaller caller,
    IRunDispatcher dispatcher,
    FunctionRegistry functions,
    LifecycleSignal lifecycle,
    IOptions<ExecutorOptions> options,
    ILogger<RunExecutor> logger)
{
    private readonly ExecutorOptions _options = options.Value;

    /// <summary>Drives the run if it is due and free; returns quietly otherwise.</summary>
    public async Task DriveAsync(string runId, CancellationToken cancellationToken)
    {
        var owner = LeaseOwner.NewClaim();
        // Started before the claim: "now" is the database's clock at the claim plus everything since the request
        // left, so it never runs behind the real time. Retry-After and backoffs computed from it are never early;
        // sleeps are checked against the same offset within a claim, and against the database's now() across claims.
        var clock = Stopwatch.StartNew();
        var run = await store.ClaimAsync(runId, owner, _options.LeaseTtl, cancellationToken);
        if (run is null)
        {
            LogNotClaimed(runId);
            return;
        }

        DateTimeOffset Now() => run.DbNow + clock.Elapsed;
        var policy = new RunPolicy(run.Retries + 1, _options.RetryBaseDelay, _options.RetryMaxDelay, _options.MaxStepsPerRun);
        var memoKeys = new HashSet<string>(run.Memo.Keys, StringComparer.Ordinal);

        try
        {
            var decision = RunStateMachine.Next(run.State, memoKeys, Now());
            while (true)
            {
                Transition transition;
                switch (decision)
                {
                    case SuspendDecision suspend when suspend.Until - Now() <= _options.InlineWaitThreshold && suspend.Status != RunStatus.Waiting:
                        // A short backoff or sleep: wait here rather than through the scheduler's poll.
                        await Task.Delay(suspend.Until - Now() is var d && d > TimeSpan.Zero ? d : TimeSpan.Zero, cancellationToken);
                        decision = RunStateMachine.Next(run.State, memoKeys, Now());
                        continue;

                    case SuspendDecision suspend:
                        await CommitAsync(run, new Transition(run.State, [], [], [], null), new SuspendDecision(suspend.Until, suspend.Status), memoKeys, cancellationToken);
                        return;

                    case ResolveDecision resolve:
                        transition = await ResolveAsync(run, resolve, memoKeys, Now(), cancellationToken);
                        break;

                    case CallDecision call:
                        transition = await CallAsync(run, call, memoKeys, policy, Now, cancellationToken);
                        transition = await CheckInvokeTargetsAsync(transition, Now(), cancellationToken);
                        break;

                    default:
                        throw new InvalidOperationException($"unknown decision {decision}");
                }

                // Decide the next move before committing, so a suspension or the end is written in the same commit.
                var after = transition.Completion is not null
                    ? null
                    : RunStateMachine.Next(transition.State, Union(memoKeys, transition.Memos), Now());
                if (after is not SuspendDecision && after is not null && clock.Elapsed > _options.SliceDuration)
                {
                    // Fairness: yield the worker; the run is due again at once.
                    after = new SuspendDecision(Now(), RunStatus.Running);
                }

                if (!await CommitAsync(run, transition, after, memoKeys, cancellationToken))
                {
                    return;
                }

                decision = after!;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: hand the run back at once rather than waiting for the lease to expire.
            await store.ReleaseAsync(run, CancellationToken.None);
        }
    }

    private async Task<Transition> ResolveAsync(ClaimedRun run, ResolveDecision resolve, HashSet<string> memoKeys, DateTimeOffset now, CancellationToken cancellationToken)
    {
        foreach (var item in resolve.Items.Where(i => i.Kind is WorkKind.Wait or WorkKind.Invoke && !memoKeys.Contains(i.StepId)))
        {
            var (consumed, matched) = await store.ConsumeWaitAsync(run.RunId, item.StepId, cancellationToken);
            if (!consumed && matched is not null)
            {
                // An event (or the invoked run's end) won the race against the timeout: it is already stored.
                run.Memo[item.StepId] = matched;
                memoKeys.Add(item.StepId);
            }
        }

        return RunStateMachine.Resolve(run.State, resolve.Items, memoKeys, now);
    }

    /// <summary>
    /// An invoke of a function that no active function has as its slug resolves at once to an error instead of
    /// starting a run. The function list is cached; a miss reloads it once, so a function synced a moment ago is found.
    /// </summary>
    private async Task<Transition> CheckInvokeTargetsAsync(Transition transition, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var invokes = transition.NewWaits.Where(w => w.Kind == WorkKind.Invoke).ToList();
        if (invokes.Count == 0)
        {
            return transition;
        }

        var known = await functions.GetAsync(cancellationToken);
        if (invokes.Any(i => !known.Any(f => f.Slug == i.Function)))
        {
            functions.Invalidate();
            known = await functions.GetAsync(cancellationToken);
        }

        foreach (var invoke in invokes.Where(i => !known.Any(f => f.Slug == i.Function)))
        {
            transition = RunStateMachine.InvokeTargetMissing(transition, invoke, now);
        }

        return transition;
    }

    private async Task<Transition> CallAsync(ClaimedRun run, CallDecision call, HashSet<string> memoKeys, RunPolicy policy, Func<DateTimeOffset> now, CancellationToken cancellationToken)
    {
        // The memo is only written after the commit, so concurrent calls can read it in place: no copy per step.
        var memo = run.Memo;
        async Task<(WorkItem Item, CallOutcome Outcome, DateTimeOffset Started)> one(WorkItem item)
        {
            var started = now();
            var body = CallRequestBuilder.Build(run.RunId, item, policy.MaxAttempts, run.State.DisableImmediateExecution, run.EventJson, memo);
            var outcome = await caller.CallAsync(run.FunctionUrl, run.FunctionSlug, run.RunId, item.StepId, body, cancellationToken);
            LogCalled(run.RunId, item.StepId, item.Attempt, outcome.GetType().Name);
            return (item, outcome, started);
        }

        var results = call.Items.Count == 1
            ? [await one(call.Items[0])]
            : await Task.WhenAll(call.Items.Select(one));

        // Fold the replies in order into one transition (parallel steps commit together).
        var state = run.State;
        var memos = new List<MemoWrite>();
        var attempts = new List<AttemptLog>();
        var waits = new List<WorkItem>();
        Completion? completion = null;
        foreach (var (item, outcome, started) in results)
        {
            var t = RunStateMachine.Apply(state, item, outcome, Union(memoKeys, memos), policy, started, now(), Random.Shared.NextDouble());
            state = t.State;
            memos.AddRange(t.Memos);
            attempts.AddRange(t.Attempts);
            waits.AddRange(t.NewWaits);
            if (t.Completion is not null)
            {
                completion = t.Completion;
                break;
            }
        }

        return new Transition(state, memos, attempts, waits, completion);
    }

    /// <summary>
    /// Commits; true when this worker keeps the run and goes on with <paramref name="after"/>. False when the run
    /// was released (suspended), ended, or is no longer ours (the fence failed).
    /// </summary>
    private async Task<bool> CommitAsync(ClaimedRun run, Transition transition, Decision? after, HashSet<string> memoKeys, CancellationToken cancellationToken)
    {
        var (disposition, status, until) = (transition.Completion, after) switch
        {
            ({ } c, _) => (Disposition.Final, c.Status, (DateTimeOffset?)null),
            (null, SuspendDecision s) => (Disposition.Suspend, s.Status, s.Until),
            _ => (Disposition.Continue, RunStatus.Running, (DateTimeOffset?)null),
        };

        CommitResult result;
        try
        {
            result = await store.CommitAsync(run, new CommitRequest(transition, disposition, status, until), _options.LeaseTtl, CancellationToken.None);
        }
        catch (Npgsql.PostgresException ex) when (ex.SqlState.StartsWith("22", StringComparison.Ordinal) || ex.SqlState.StartsWith("54", StringComparison.Ordinal))
        {
            // The database refused what the app sent (a value jsonb cannot hold, a program limit). Retrying would
            // fail the same way on every dispatch, so the run fails now, with the reason, instead of looping.
            LogUnstorable(ex, run.RunId, ex.SqlState);
            transition = new Transition(transition.State with { Items = [] }, [], [], [], new Completion(RunStatus.Failed, null,
                Protocol.ErrorJson.Create("UnstorableOutputError", $"The platform could not store the app's reply: {ex.MessageText}")));
            (disposition, status) = (Disposition.Final, RunStatus.Failed);
            result = await store.CommitAsync(run, new CommitRequest(transition, disposition, status, null), _options.LeaseTtl, CancellationToken.None);
        }

        if (!result.Committed)
        {
            LogLostLease(run.RunId);
            return false;
        }

        foreach (var memo in transition.Memos)
        {
            run.Memo[memo.StepId] = result.Stored.TryGetValue(memo.StepId, out var stored) ? stored : memo.OutputJson;
            memoKeys.Add(memo.StepId);
        }

        if (result.Conflicts.Count > 0)
        {
            LogDuplicateStep(run.RunId, string.Join(",", result.Conflicts));
        }

        run.State = transition.State;
        if (result.Dispatch.Count > 0)
        {
            // Runs this commit started (invokes) or resumed (the invoker of a run that ended). If we die before this
            // line, they are stored as due and the sweep dispatches them.
            await dispatcher.DispatchAsync(result.Dispatch, cancellationToken);
        }

        if (transition.Completion is { } completion)
        {
            // Its lifecycle events are in the outbox with the end; if we die before this, the publisher's poll sends them.
            lifecycle.Notify();
            LogFinished(run.RunId, completion.Status);
        }
        else if (disposition == Disposition.Suspend && result.DueNow)
        {
            // Due at once (a yield, or a wait matched while we held the lease). Later wake-ups need no action:
            // next_wake_at is stored and the wake-up loop dispatches the run when it falls due. If we die
            // before this line, the same loop finds the run.
            await dispatcher.DispatchAsync([run.RunId], cancellationToken);
        }

        return disposition == Disposition.Continue;
    }

    private static HashSet<string> Union(HashSet<string> memoKeys, IReadOnlyList<MemoWrite> memos)
    {
        if (memos.Count == 0)
        {
            return memoKeys;
        }

        var union = new HashSet<string>(memoKeys, StringComparer.Ordinal);
        foreach (var m in memos)
        {
            union.Add(m.StepId);
        }

        return union;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Run {RunId} not claimed: not due, leased elsewhere, or final")]
    private partial void LogNotClaimed(string runId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Run {RunId}: called step {StepId} attempt {Attempt}: {Outcome}")]
    private partial void LogCalled(string runId, string stepId, int attempt, string outcome);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} lost its lease (cancelled or taken over); its last reply was discarded")]
    private partial void LogLostLease(string runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: steps {StepIds} were already stored by another worker; the first output wins")]
    private partial void LogDuplicateStep(string runId, string stepIds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: the database refused the app's reply ({SqlState}); the run fails")]
    private partial void LogUnstorable(Exception ex, string runId, string sqlState);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} finished: {Status}")]
    private partial void LogFinished(string runId, RunStatus status);
}
