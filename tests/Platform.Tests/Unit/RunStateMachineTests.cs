using System.Text.Json;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;
using static Platform.Tests.Unit.Replies;

namespace Platform.Tests.Unit;

/// <summary>
/// Every opcode and every retry and failure path of the pure run state machine. Time is a value: a fixed instant
/// moved forward by hand; jitter is data.
/// </summary>
public sealed class RunStateMachineTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset s_started = s_t0.AddMilliseconds(-250);
    private static readonly RunPolicy s_policy = new(MaxAttempts: 3, RetryBaseDelay: TimeSpan.FromSeconds(1), RetryMaxDelay: TimeSpan.FromMinutes(1), MaxSteps: 100);
    private static readonly WorkItem s_discovery = WorkItem.Discovery(s_t0);

    private static Transition Apply(
        RunState state,
        WorkItem called,
        CallOutcome outcome,
        IReadOnlySet<string>? memoized = null,
        DateTimeOffset? now = null,
        double jitter = 0,
        RunPolicy? policy = null) =>
        RunStateMachine.Apply(state, called, outcome, memoized ?? Memoized(), policy ?? s_policy, s_started, now ?? s_t0, jitter);

    private static string ErrorName(string json, bool wrapped)
    {
        using var doc = JsonDocument.Parse(json);
        var error = wrapped ? doc.RootElement.GetProperty("error") : doc.RootElement;
        return error.GetProperty("name").GetString()!;
    }

    private static string ErrorMessage(string json, bool wrapped)
    {
        using var doc = JsonDocument.Parse(json);
        var error = wrapped ? doc.RootElement.GetProperty("error") : doc.RootElement;
        return error.GetProperty("message").GetString()!;
    }

    private static void AssertOnlyDiscoveryPending(Transition t, DateTimeOffset dueAt)
    {
        Assert.Equal(WorkItem.Discovery(dueAt), Assert.Single(t.State.Items));
        Assert.False(t.State.DisableImmediateExecution);
        Assert.Null(t.Completion);
    }

    // ---- Next -------------------------------------------------------------------------------------------------

    [Fact]
    public void Next_NewRun_CallsDiscoveryAtAttemptZero()
    {
        var call = Assert.IsType<CallDecision>(RunStateMachine.Next(RunState.Start(s_t0), Memoized(), s_t0));

        var item = Assert.Single(call.Items);
        Assert.Equal(WorkKind.Discovery, item.Kind);
        Assert.Equal("step", item.StepId);
        Assert.Equal(0, item.Attempt);
    }

    [Fact]
    public void Next_NoPendingItems_FallsBackToDiscovery()
    {
        var call = Assert.IsType<CallDecision>(RunStateMachine.Next(State(), Memoized(), s_t0));

        Assert.Equal(WorkItem.Discovery(s_t0), Assert.Single(call.Items));
    }

    [Theory]
    [InlineData(true, true, true, RunStatus.Waiting)]
    [InlineData(false, true, true, RunStatus.Waiting)]
    [InlineData(true, true, false, RunStatus.Sleeping)]
    [InlineData(false, true, false, RunStatus.Sleeping)]
    [InlineData(true, false, false, RunStatus.Running)]
    [InlineData(true, false, true, RunStatus.Waiting)]
    public void Next_NothingDue_SuspendsUntilEarliestDueTimeWithWaitingOverSleepingOverRunning(bool retry, bool sleep, bool wait, RunStatus expected)
    {
        // The wait's timeout is earliest when it is there, so Until is not simply "the item of the status".
        var items = new List<WorkItem>();
        if (retry)
        {
            items.Add(Step("p1", s_t0.AddSeconds(30), attempt: 1));
        }

        if (sleep)
        {
            items.Add(SleepItem("s1", s_t0.AddMinutes(10)));
        }

        if (wait)
        {
            items.Add(WaitItem("w1", s_t0.AddSeconds(20)));
        }

        var suspend = Assert.IsType<SuspendDecision>(RunStateMachine.Next(State([.. items]), Memoized(), s_t0));

        Assert.Equal(expected, suspend.Status);
        Assert.Equal(items.Min(i => i.DueAt), suspend.Until);
    }

    [Fact]
    public void Next_DueSleepAndDueStep_ResolvesTheSleepBeforeCalling()
    {
        var sleep = SleepItem("s1", s_t0);
        var state = State(Step("p1", s_t0), sleep);

        var resolve = Assert.IsType<ResolveDecision>(RunStateMachine.Next(state, Memoized(), s_t0));

        Assert.Equal(sleep, Assert.Single(resolve.Items));
    }

    [Fact]
    public void Next_WaitMemoizedBeforeItsTimeout_ResolvesIt()
    {
        var wait = WaitItem("w1", s_t0.AddHours(1));

        var resolve = Assert.IsType<ResolveDecision>(RunStateMachine.Next(State(wait), Memoized("w1"), s_t0));

        Assert.Equal(wait, Assert.Single(resolve.Items));
    }

    [Fact]
    public void Next_SeveralDueSteps_CallsTheDueOnesTogether()
    {
        var state = State(Step("p1", s_t0), Step("p2", s_t0.AddSeconds(-1)), Step("p3", s_t0.AddSeconds(1)));

        var call = Assert.IsType<CallDecision>(RunStateMachine.Next(state, Memoized(), s_t0));

        Assert.Equal(["p1", "p2"], call.Items.Select(i => i.StepId));
    }

    // ---- StepRun ----------------------------------------------------------------------------------------------

    [Fact]
    public void Apply_StepRunFromDiscovery_StoresDataMemoAndPlansDiscoveryAtAttemptZero()
    {
        var now = s_t0.AddSeconds(1);

        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepRun("a", "\"A\"")), now: now);

        Assert.Equal(new MemoWrite("a", "a", "a", OpNames.StepRun, """{"data":"A"}""", 1, s_started), Assert.Single(t.Memos));
        AssertOnlyDiscoveryPending(t, now);
        Assert.Empty(t.Attempts);
        Assert.Empty(t.NewWaits);
    }

    [Fact]
    public void Apply_StepRunFromRetriedDiscovery_CountsTheDiscoveryAttemptsAndResetsTheNextDiscovery()
    {
        var retried = WorkItem.Discovery(s_t0, attempt: 2);

        var t = Apply(State(retried), retried, Ops(StepRun("a", "1")));

        Assert.Equal(3, Assert.Single(t.Memos).Attempts);
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    [Fact]
    public void Apply_StepRunDataWithOddFormatting_StoresTheBytesVerbatim()
    {
        const string data = """{"b": 1,  "a":[1, 2.50, 1e3],"s":"\u00e9\n"}""";

        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepRun("a", data)));

        Assert.Equal("{\"data\":" + data + "}", Assert.Single(t.Memos).OutputJson);
    }

    [Fact]
    public void Apply_StepRunWithoutData_StoresNullData()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepRun("a", dataJson: null)));

        Assert.Equal("""{"data":null}""", Assert.Single(t.Memos).OutputJson);
    }

    [Fact]
    public void Apply_LegacyStepOp_IsStoredAsStepRun()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(new Op("a", OpNames.Step, "a", null, null, "7", null)));

        var memo = Assert.Single(t.Memos);
        Assert.Equal(OpNames.StepRun, memo.Op);
        Assert.Equal("""{"data":7}""", memo.OutputJson);
    }

    [Fact]
    public void Apply_StepRunOfAnAlreadyMemoizedStep_IsNotStoredAgain()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepRun("a", "\"again\""), StepRun("b", "\"B\"")), memoized: Memoized("a"));

        Assert.Equal("b", Assert.Single(t.Memos).StepId);
    }

    [Theory]
    [InlineData("\"a\\u0000b\"", "NUL")]
    [InlineData("{\"k\":\"\\ud800\"}", "surrogate")]
    [InlineData("{\"k\\u0000\":1}", "NUL")]
    [InlineData("[\"ok\",{\"deep\":[\"\\udc00x\"]}]", "surrogate")]
    public void Apply_StepRunOutputPostgresCannotStore_StoresStepFailedInstead(string data, string reason)
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepRun("a", data)));

        var memo = Assert.Single(t.Memos);
        Assert.Equal(OpNames.StepFailed, memo.Op);
        Assert.Equal("UnstorableOutputError", ErrorName(memo.OutputJson, wrapped: true));
        Assert.Contains(reason, ErrorMessage(memo.OutputJson, wrapped: true), StringComparison.Ordinal);
        Assert.Null(JsonSafety.FindUnstorable(memo.OutputJson));
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    // ---- StepPlanned and parallel steps (protocol.md §13) ------------------------------------------------------

    [Fact]
    public void Apply_SeveralStepPlanned_QueuesOneStepCallEachAndDisablesImmediateExecution()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Planned("p1"), Planned("p2"), Planned("p3")));

        Assert.True(t.State.DisableImmediateExecution);
        Assert.Equal(["p1", "p2", "p3"], t.State.Items.Select(i => i.StepId));
        Assert.All(t.State.Items, i =>
        {
            Assert.Equal(WorkKind.Step, i.Kind);
            Assert.Equal(0, i.Attempt);
            Assert.Equal(s_t0, i.DueAt);
        });
        Assert.Empty(t.Memos);
        Assert.Empty(t.Attempts);

        var call = Assert.IsType<CallDecision>(RunStateMachine.Next(t.State, Memoized(), s_t0));
        Assert.Equal(["p1", "p2", "p3"], call.Items.Select(i => i.StepId));
    }

    [Fact]
    public void Apply_OneStepPlanned_KeepsImmediateExecution()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Planned("p1")));

        Assert.False(t.State.DisableImmediateExecution);
        Assert.Equal("p1", Assert.Single(t.State.Items).StepId);
    }

    [Fact]
    public void Apply_StepPlannedWithLazyOps_LazyOpsDoNotCountAsParallelism()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Planned("p1"), Other(OpNames.DeferAdd, "d1"), Other(OpNames.DeferAbort, "d2")));

        Assert.False(t.State.DisableImmediateExecution);
        Assert.Equal("p1", Assert.Single(t.State.Items).StepId);
    }

    [Fact]
    public void Apply_StepRunFromPlannedStepCall_StoresItAndWaitsForTheOtherPlannedSteps()
    {
        var p1 = Step("p1", s_t0, attempt: 1);
        var state = State(p1, Step("p2", s_t0), Step("p3", s_t0)) with { DisableImmediateExecution = true };

        var t = Apply(state, p1, Ops(StepRun("p1", "1")));

        Assert.Equal(new MemoWrite("p1", "p1", "p1", OpNames.StepRun, """{"data":1}""", 2, s_started), Assert.Single(t.Memos));
        Assert.Equal(["p2", "p3"], t.State.Items.Select(i => i.StepId));
        Assert.True(t.State.DisableImmediateExecution);
    }

    [Fact]
    public void Apply_LastPlannedStepSettles_PlansDiscoveryAndResetsImmediateExecution()
    {
        var p3 = Step("p3", s_t0);
        var state = State(p3) with { DisableImmediateExecution = true };

        var t = Apply(state, p3, Ops(StepRun("p3", "3")), memoized: Memoized("p1", "p2"));

        Assert.Equal("p3", Assert.Single(t.Memos).StepId);
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    [Fact]
    public void Apply_PlannedStepsReportedAgain_AreQueuedOnceAndNeverAfterTheyAreStored()
    {
        // A discovery while planned steps are pending makes the SDK re-report them (protocol.md §13).
        var p1 = Step("p1", s_t0);
        var state = State(p1, Step("p2", s_t0)) with { DisableImmediateExecution = true };

        var t = Apply(state, p1, Ops(StepRun("p1", "1"), Planned("p2"), Planned("p0")), memoized: Memoized("p0"));

        Assert.Equal("p1", Assert.Single(t.Memos).StepId);
        Assert.Equal("p2", Assert.Single(t.State.Items).StepId);
    }

    [Fact]
    public void Apply_PlannedStepCallThatOnlyReplansItself_RetriesItOnceWithTheNextAttempt()
    {
        // The app did not run what it was asked to: a protocol error that must consume an attempt, not reset it.
        var p1 = Step("p1", s_t0);
        var state = State(p1, Step("p2", s_t0)) with { DisableImmediateExecution = true };

        var t = Apply(state, p1, Ops(Planned("p1")));

        var retries = t.State.Items.Where(i => i.StepId == "p1").ToList();
        Assert.Equal(1, Assert.Single(retries).Attempt);
        Assert.Contains(t.State.Items, i => i.StepId == "p2");
        Assert.Equal("ProtocolError", ErrorName(Assert.Single(t.Attempts).ErrorJson, wrapped: false));
    }

    [Fact]
    public void Apply_FanOutThenFanIn_CallsEachStepOnceAndDiscoversOnlyAfterAllSettled()
    {
        var now = s_t0;
        var t = Apply(RunState.Start(now), s_discovery, Ops(Planned("p1"), Planned("p2")), now: now);
        var call = Assert.IsType<CallDecision>(RunStateMachine.Next(t.State, Memoized(), now));
        Assert.Equal(2, call.Items.Count);

        // The executor folds concurrent replies in order into one transition.
        var afterP1 = Apply(t.State, call.Items[0], Ops(StepRun("p1", "1")), now: now);
        var afterP2 = Apply(afterP1.State, call.Items[1], Ops(StepError("p2")), memoized: Memoized("p1"), now: now, jitter: 1);
        var retry = Assert.Single(afterP2.State.Items);
        Assert.Equal(("p2", 1, now.AddSeconds(1)), (retry.StepId, retry.Attempt, retry.DueAt));
        Assert.True(afterP2.State.DisableImmediateExecution);

        var suspend = Assert.IsType<SuspendDecision>(RunStateMachine.Next(afterP2.State, Memoized("p1"), now));
        Assert.Equal((now.AddSeconds(1), RunStatus.Running), (suspend.Until, suspend.Status));

        now = suspend.Until;
        var retryCall = Assert.IsType<CallDecision>(RunStateMachine.Next(afterP2.State, Memoized("p1"), now));
        var done = Apply(afterP2.State, Assert.Single(retryCall.Items), Ops(StepRun("p2", "2")), memoized: Memoized("p1"), now: now);
        Assert.Equal(2, Assert.Single(done.Memos).Attempts);
        AssertOnlyDiscoveryPending(done, now);

        var end = Apply(done.State, done.State.Items[0], new FunctionCompleted("[1,2]"), memoized: Memoized("p1", "p2"), now: now);
        Assert.Equal(new Completion(RunStatus.Completed, "[1,2]", null), end.Completion);
    }

    // ---- StepError and retries ---------------------------------------------------------------------------------

    [Theory]
    [InlineData(0.0, 500)]
    [InlineData(0.5, 750)]
    [InlineData(1.0, 1000)]
    public void Apply_StepErrorWithAttemptsLeft_RequeuesTheSameItemWithBackoff(double jitter, int delayMs)
    {
        var p1 = Step("p1", s_t0);
        var retryAt = s_t0.AddMilliseconds(delayMs);

        var t = Apply(State(p1), p1, Ops(StepError("p1")), jitter: jitter);

        Assert.Equal(p1 with { Attempt = 1, DueAt = retryAt }, Assert.Single(t.State.Items));
        Assert.Equal(new AttemptLog("p1", "p1", 0, Boom, retryAt), Assert.Single(t.Attempts));
        Assert.Empty(t.Memos);
        Assert.Null(t.Completion);
        Assert.Equal(new SuspendDecision(retryAt, RunStatus.Running), RunStateMachine.Next(t.State, Memoized(), s_t0));
        var call = Assert.IsType<CallDecision>(RunStateMachine.Next(t.State, Memoized(), retryAt));
        Assert.Equal(("p1", 1), (Assert.Single(call.Items).StepId, call.Items[0].Attempt));
    }

    [Theory]
    [InlineData(0, 1.0, 1_000)]
    [InlineData(1, 1.0, 2_000)]
    [InlineData(2, 1.0, 4_000)]
    [InlineData(5, 1.0, 32_000)]
    [InlineData(6, 1.0, 60_000)]
    [InlineData(6, 0.0, 30_000)]
    [InlineData(1_000, 1.0, 60_000)]
    [InlineData(2, -3.0, 2_000)]
    [InlineData(2, 7.0, 4_000)]
    public void RetryAt_NoRetryAfter_ExponentialCappedWithJitterOnTheUpperHalf(int attempt, double jitter, int delayMs)
    {
        Assert.Equal(s_t0.AddMilliseconds(delayMs), RunStateMachine.RetryAt(attempt, null, s_policy, s_t0, jitter));
    }

    [Theory]
    [InlineData("30", 30)]
    [InlineData("0", 1)]
    [InlineData("172800", 86_400)]
    public void Apply_StepErrorWithRetryAfterSeconds_WaitsWhatWasAskedClampedToOneSecondAndOneDay(string header, int seconds)
    {
        // Go clamps Retry-After to [1 s, 24 h] (protocol.md §14.4); jitter never shortens it.
        var p1 = Step("p1", s_t0);
        foreach (var jitter in new[] { 0.0, 1.0 })
        {
            var t = Apply(State(p1), p1, Ops(false, CallResponseParser.ParseRetryAfter(header), StepError("p1")), jitter: jitter);

            Assert.Equal(s_t0.AddSeconds(seconds), Assert.Single(t.State.Items).DueAt);
        }
    }

    [Theory]
    [InlineData("Sat, 28 Nov 2026 12:02:00 GMT", 120)]
    [InlineData("2026-11-28T12:00:42.5Z", 42.5)]
    [InlineData("2026-11-28T11:00:00Z", 1)]
    public void Apply_StepErrorWithRetryAfterDate_WaitsUntilThatDateButAtLeastOneSecond(string header, double seconds)
    {
        var p1 = Step("p1", s_t0);

        var t = Apply(State(p1), p1, Ops(false, CallResponseParser.ParseRetryAfter(header), StepError("p1")), jitter: 1);

        Assert.Equal(s_t0.AddSeconds(seconds), Assert.Single(t.State.Items).DueAt);
    }

    [Fact]
    public void Apply_StepErrorOnDiscoveryCall_RetriesTheDiscoveryCall()
    {
        // Immediate execution: the step ran inside a discovery call, so that call is what is retried.
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepError("a")));

        var retry = Assert.Single(t.State.Items);
        Assert.Equal((WorkKind.Discovery, "step", 1, s_t0.AddMilliseconds(500)), (retry.Kind, retry.StepId, retry.Attempt, retry.DueAt));
        Assert.Equal(new AttemptLog("a", "a", 0, Boom, s_t0.AddMilliseconds(500)), Assert.Single(t.Attempts));
        Assert.Empty(t.Memos);
    }

    [Fact]
    public void Apply_StepErrorOnLastAttempt_StoresErrorMemoAndPlansDiscovery()
    {
        var p1 = Step("p1", s_t0, attempt: 2);

        var t = Apply(State(p1), p1, Ops(StepError("p1")));

        Assert.Equal(new MemoWrite("p1", "p1", "p1", OpNames.StepFailed, "{\"error\":" + Boom + "}", 3, s_started), Assert.Single(t.Memos));
        Assert.Equal(new AttemptLog("p1", "p1", 2, Boom, null), Assert.Single(t.Attempts));
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    [Fact]
    public void Apply_StepErrorWithNoRetryHeader_StoresErrorMemoOnTheFirstAttempt()
    {
        var p1 = Step("p1", s_t0);

        var t = Apply(State(p1), p1, Ops(true, null, StepError("p1")));

        var memo = Assert.Single(t.Memos);
        Assert.Equal((OpNames.StepFailed, 1), (memo.Op, memo.Attempts));
        Assert.Equal("{\"error\":" + Boom + "}", memo.OutputJson);
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    [Fact]
    public void Apply_SeveralStepErrorsInOneReply_RetriesTheCallOnce()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepError("a"), StepError("b")));

        var retry = Assert.Single(t.State.Items);
        Assert.Equal((WorkKind.Discovery, 1), (retry.Kind, retry.Attempt));
        Assert.Equal(["a", "b"], t.Attempts.Select(a => a.StepId));
    }

    [Fact]
    public void Apply_StepErrorWithoutErrorObject_LogsAGenericError()
    {
        var p1 = Step("p1", s_t0);

        var t = Apply(State(p1), p1, Ops(new Op("p1", OpNames.StepError, "p1", null, null, null, null)));

        Assert.Equal("The step failed without an error object", ErrorMessage(Assert.Single(t.Attempts).ErrorJson, wrapped: false));
    }

    // ---- StepFailed --------------------------------------------------------------------------------------------

    [Fact]
    public void Apply_StepFailed_StoresErrorMemoAndPlansDiscovery()
    {
        var p1 = Step("p1", s_t0, attempt: 1);

        var t = Apply(State(p1), p1, Ops(true, null, StepFailed("p1")));

        Assert.Equal(new MemoWrite("p1", "p1", "p1", OpNames.StepFailed, "{\"error\":" + Boom + "}", 2, s_started), Assert.Single(t.Memos));
        Assert.Equal(new AttemptLog("p1", "p1", 1, Boom, null), Assert.Single(t.Attempts));
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    [Fact]
    public void Apply_StepFailedWithTheErrorOnlyInData_StoresThatError()
    {
        const string error = """{"name":"CustomError","message":"m"}""";

        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepFailed("a", errorJson: null, dataJson: error)));

        Assert.Equal("{\"error\":" + error + "}", Assert.Single(t.Memos).OutputJson);
    }

    [Fact]
    public void Apply_StepFailedWithoutAnyError_StoresAGenericError()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepFailed("a", errorJson: null)));

        var memo = Assert.Single(t.Memos).OutputJson;
        Assert.Equal("Error", ErrorName(memo, wrapped: true));
        Assert.Equal("The step failed without an error object", ErrorMessage(memo, wrapped: true));
    }

    // ---- Sleep -------------------------------------------------------------------------------------------------

    [Fact]
    public void Apply_SleepWithDurationInName_SchedulesATimerThenResolvesItWithNull()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Sleep("s1", "2s")));

        var wakeAt = s_t0.AddSeconds(2);
        Assert.Equal(new WorkItem { Kind = WorkKind.Sleep, StepId = "s1", Name = "nap", DisplayName = "nap", DueAt = wakeAt }, Assert.Single(t.State.Items));
        Assert.Empty(t.Memos);
        Assert.Empty(t.NewWaits);
        Assert.Equal(new SuspendDecision(wakeAt, RunStatus.Sleeping), RunStateMachine.Next(t.State, Memoized(), s_t0));
        Assert.Equal(new SuspendDecision(wakeAt, RunStatus.Sleeping), RunStateMachine.Next(t.State, Memoized(), wakeAt.AddTicks(-1)));

        var resolve = Assert.IsType<ResolveDecision>(RunStateMachine.Next(t.State, Memoized(), wakeAt));
        var resolved = RunStateMachine.Resolve(t.State, resolve.Items, Memoized(), wakeAt);

        Assert.Equal(new MemoWrite("s1", "nap", "nap", OpNames.Sleep, "null", 1, null), Assert.Single(resolved.Memos));
        AssertOnlyDiscoveryPending(resolved, wakeAt);
    }

    [Fact]
    public void Apply_SleepWithDurationInOpts_PrefersOpts()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Sleep("s1", "5s", """{"duration":"1h"}""")));

        Assert.Equal(s_t0.AddHours(1), Assert.Single(t.State.Items).DueAt);
    }

    [Fact]
    public void Apply_SleepUntilIsoInstant_WakesAtThatInstant()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Sleep("s1", "2026-11-28T13:30:00.500Z")));

        Assert.Equal(new DateTimeOffset(2026, 11, 28, 13, 30, 0, 500, TimeSpan.Zero), Assert.Single(t.State.Items).DueAt);
    }

    [Fact]
    public void Apply_SleepWithEmptyDuration_WakesAtOnce()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Sleep("s1", "")));

        Assert.IsType<ResolveDecision>(RunStateMachine.Next(t.State, Memoized(), s_t0));
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("367d")]
    [InlineData("1y")]
    [InlineData("-5s")]
    [InlineData("2028-01-01T00:00:00Z")]
    [InlineData(null)]
    public void Apply_SleepInvalidOrTooLong_FailsTheStepClearly(string? spec)
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Sleep("s1", spec)));

        var memo = Assert.Single(t.Memos);
        Assert.Equal(("s1", OpNames.StepFailed), (memo.StepId, memo.Op));
        Assert.Equal("InvalidSleepError", ErrorName(memo.OutputJson, wrapped: true));
        Assert.Contains("366 days", ErrorMessage(memo.OutputJson, wrapped: true), StringComparison.Ordinal);
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    [Fact]
    public void Apply_SleepReportedAgainWhilePending_KeepsTheOriginalWakeTime()
    {
        // After a parallel step settles, discovery re-reports the sleep still running.
        var sleep = SleepItem("s1", s_t0.AddHours(1));
        var state = State(sleep, s_discovery);

        var t = Apply(state, s_discovery, Ops(Sleep("s1", "1h")), now: s_t0.AddMinutes(10));

        Assert.Equal(sleep, Assert.Single(t.State.Items));
        Assert.Empty(t.Memos);
    }

    [Fact]
    public void Resolve_SleepWhilePlannedStepsPending_DoesNotPlanDiscoveryYet()
    {
        var sleep = SleepItem("s1", s_t0);
        var p2 = Step("p2", s_t0.AddSeconds(5), attempt: 1);

        var t = RunStateMachine.Resolve(State(sleep, p2), [sleep], Memoized(), s_t0);

        Assert.Equal("s1", Assert.Single(t.Memos).StepId);
        Assert.Equal(p2, Assert.Single(t.State.Items));
    }

    // ---- WaitForEvent ------------------------------------------------------------------------------------------

    [Fact]
    public void Apply_WaitForEvent_RegistersAWaitWithTimeoutAndExpression()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery,
            Ops(Wait("w1", "test/approve", """{"timeout":"1h","if":"async.data.id == event.data.id"}""")));

        var expected = new WorkItem
        {
            Kind = WorkKind.Wait,
            StepId = "w1",
            Name = "wait-approve",
            DisplayName = "wait-approve",
            DueAt = s_t0.AddHours(1),
            Event = "test/approve",
            Expression = "async.data.id == event.data.id",
        };
        Assert.Equal(expected, Assert.Single(t.State.Items));
        Assert.Equal(expected, Assert.Single(t.NewWaits));
        Assert.Empty(t.Memos);
        Assert.Equal(new SuspendDecision(s_t0.AddHours(1), RunStatus.Waiting), RunStateMachine.Next(t.State, Memoized(), s_t0));
    }

    [Fact]
    public void Apply_WaitForEventWithEventInOpts_PrefersOpts()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Wait("w1", "from/name", """{"event":"from/opts","timeout":"10m"}""")));

        var wait = Assert.Single(t.NewWaits);
        Assert.Equal(("from/opts", s_t0.AddMinutes(10), null), (wait.Event, wait.DueAt, wait.Expression));
    }

    [Fact]
    public void Apply_WaitForEventWithoutTimeout_ExpiresAtOnce()
    {
        // Go: an empty timeout expires immediately (protocol.md §15.2).
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Wait("w1", "test/approve", "{}")));

        Assert.Equal(s_t0, Assert.Single(t.NewWaits).DueAt);
        Assert.IsType<ResolveDecision>(RunStateMachine.Next(t.State, Memoized(), s_t0));
    }

    [Theory]
    [InlineData("test/approve", """{"timeout":"forever"}""")]
    [InlineData("test/approve", """{"timeout":"367d"}""")]
    [InlineData(null, """{"timeout":"1h"}""")]
    [InlineData("", """{"timeout":"1h"}""")]
    public void Apply_WaitForEventInvalid_FailsTheStepAndRegistersNoWait(string? eventName, string opts)
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Wait("w1", eventName, opts)));

        var memo = Assert.Single(t.Memos);
        Assert.Equal(("w1", OpNames.StepFailed), (memo.StepId, memo.Op));
        Assert.Equal("InvalidWaitError", ErrorName(memo.OutputJson, wrapped: true));
        Assert.Empty(t.NewWaits);
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    [Fact]
    public void Resolve_WaitMatchedByAnEvent_WritesNoMemoAndPlansDiscovery()
    {
        // Ingest stored the matching event as the step's output; the state machine must not write it again.
        var wait = WaitItem("w1", s_t0.AddHours(1));
        var resolve = Assert.IsType<ResolveDecision>(RunStateMachine.Next(State(wait), Memoized("w1"), s_t0));

        var t = RunStateMachine.Resolve(State(wait), resolve.Items, Memoized("w1"), s_t0);

        Assert.Empty(t.Memos);
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    [Fact]
    public void Resolve_WaitTimedOut_StoresNullAndPlansDiscovery()
    {
        var wait = WaitItem("w1", s_t0.AddHours(1));
        var expiry = s_t0.AddHours(1);
        var resolve = Assert.IsType<ResolveDecision>(RunStateMachine.Next(State(wait), Memoized(), expiry));

        var t = RunStateMachine.Resolve(State(wait), resolve.Items, Memoized(), expiry);

        Assert.Equal(new MemoWrite("w1", "test/approve", null, OpNames.WaitForEvent, "null", 1, null), Assert.Single(t.Memos));
        AssertOnlyDiscoveryPending(t, expiry);
    }

    // ---- RunComplete, DiscoveryRequest, unsupported ops ---------------------------------------------------------

    [Fact]
    public void Apply_RunComplete_CompletesWithItsData()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(RunComplete("""{"b":"AB"}""")));

        Assert.Equal(new Completion(RunStatus.Completed, """{"b":"AB"}""", null), t.Completion);
        Assert.Empty(t.State.Items);
    }

    [Fact]
    public void Apply_RunCompleteAfterStepRunsInTheSameReply_StoresThoseStepsThenCompletes()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepRun("a", "\"A\""), StepRun("b", "\"B\""), RunComplete("\"AB\"")));

        Assert.Equal(["a", "b"], t.Memos.Select(m => m.StepId));
        Assert.Equal(new Completion(RunStatus.Completed, "\"AB\"", null), t.Completion);
        Assert.Empty(t.State.Items);
    }

    [Fact]
    public void Apply_RunCompleteWithoutData_CompletesWithNull()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(RunComplete(null)));

        Assert.Equal(new Completion(RunStatus.Completed, "null", null), t.Completion);
    }

    [Fact]
    public void Apply_DiscoveryRequest_PlansAnotherDiscovery()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(DiscoveryRequest()), now: s_t0.AddSeconds(3));

        AssertOnlyDiscoveryPending(t, s_t0.AddSeconds(3));
        Assert.Empty(t.Memos);
        Assert.Empty(t.Attempts);
    }

    [Theory]
    [InlineData("AIGateway")]
    [InlineData("Gateway")]
    [InlineData("WaitForSignal")]
    [InlineData("SomethingNew")]
    public void Apply_UnsupportedOp_FailsTheStepWithAClearError(string opName)
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(Other(opName, "x1")));

        var memo = Assert.Single(t.Memos);
        Assert.Equal(("x1", OpNames.StepFailed), (memo.StepId, memo.Op));
        Assert.Equal("UnsupportedOpError", ErrorName(memo.OutputJson, wrapped: true));
        Assert.Contains(opName, ErrorMessage(memo.OutputJson, wrapped: true), StringComparison.Ordinal);
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    // ---- Protocol errors ---------------------------------------------------------------------------------------

    public static TheoryData<string, Op[]> ProtocolErrors => new()
    {
        { "with no ops", [] },
        { "with no ops", [Other(OpNames.DeferAdd, "d1"), Other(OpNames.DeferAbort, "d2")] },
        { "step a twice", [StepRun("a", "1"), StepRun("a", "2")] },
        { "step p1 twice", [Planned("p1"), StepRun("b", "1"), Planned("p1")] },
    };

    [Theory]
    [MemberData(nameof(ProtocolErrors))]
    public void Apply_MalformedOps_IsRetryableProtocolErrorThatStoresNothing(string message, Op[] ops)
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(ops));

        Assert.Equal(WorkItem.Discovery(s_t0.AddMilliseconds(500), attempt: 1), Assert.Single(t.State.Items));
        Assert.Empty(t.Memos);
        var log = Assert.Single(t.Attempts);
        Assert.Equal("ProtocolError", ErrorName(log.ErrorJson, wrapped: false));
        Assert.Contains(message, ErrorMessage(log.ErrorJson, wrapped: false), StringComparison.Ordinal);
        Assert.Null(t.Completion);
    }

    [Fact]
    public void Apply_StepCallWhoseReplyDoesNotSettleThatStep_RetriesItAndKeepsWhatTheReplyStored()
    {
        var p1 = Step("p1", s_t0);
        var state = State(p1, Step("p2", s_t0)) with { DisableImmediateExecution = true };

        var t = Apply(state, p1, Ops(StepRun("p2", "2")));

        Assert.Equal("p2", Assert.Single(t.Memos).StepId);
        Assert.Equal(p1 with { Attempt = 1, DueAt = s_t0.AddMilliseconds(500) }, Assert.Single(t.State.Items));
        var log = Assert.Single(t.Attempts);
        Assert.Equal("p1", log.StepId);
        Assert.Contains("did not include it", ErrorMessage(log.ErrorJson, wrapped: false), StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_ProtocolErrorOnLastAttempt_FailsTheRun()
    {
        var p1 = Step("p1", s_t0, attempt: 2);

        var t = Apply(State(p1), p1, Ops());

        Assert.Equal(RunStatus.Failed, t.Completion!.Status);
        Assert.Equal("ProtocolError", ErrorName(t.Completion.ErrorJson!, wrapped: false));
        Assert.Empty(t.State.Items);
    }

    [Fact]
    public void Apply_DiscoveryReplyThatChangesNothing_IsAProtocolErrorSoTheRunCannotLoopForever()
    {
        // The app re-reports only steps that are already stored: another discovery would get the same answer.
        var memoized = Memoized("a", "b");
        var state = RunState.Start(s_t0);
        var now = s_t0;
        for (var call = 1; call <= s_policy.MaxAttempts; call++)
        {
            var next = Assert.IsType<CallDecision>(RunStateMachine.Next(state, memoized, now));
            var t = Apply(state, Assert.Single(next.Items), Ops(Planned("a"), StepRun("b", "1")), memoized, now);
            Assert.Empty(t.Memos);
            Assert.Equal("ProtocolError", ErrorName(Assert.Single(t.Attempts).ErrorJson, wrapped: false));
            if (call == s_policy.MaxAttempts)
            {
                Assert.Equal(RunStatus.Failed, t.Completion!.Status);
                return;
            }

            Assert.Null(t.Completion);
            state = t.State;
            now = state.Items.Min(i => i.DueAt);
        }
    }

    // ---- Function-level outcomes -------------------------------------------------------------------------------

    [Fact]
    public void Apply_CallFailedWithAttemptsLeft_RetriesOnlyThatItemWithBackoff()
    {
        var p1 = Step("p1", s_t0);
        var p2 = Step("p2", s_t0);

        var t = Apply(State(p1, p2), p1, new CallFailed(500, Boom, Final: false, null));

        Assert.Equal([p2, p1 with { Attempt = 1, DueAt = s_t0.AddMilliseconds(500) }], t.State.Items);
        Assert.Equal(new AttemptLog("p1", "p1", 0, Boom, s_t0.AddMilliseconds(500)), Assert.Single(t.Attempts));
        Assert.Empty(t.Memos);
        Assert.Null(t.Completion);
    }

    [Fact]
    public void Apply_CallFailedWithRetryAfter_WaitsWhatWasAsked()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, new CallFailed(503, Boom, Final: false, new RetryAfter(TimeSpan.FromSeconds(20), null)), jitter: 1);

        Assert.Equal(WorkItem.Discovery(s_t0.AddSeconds(20), attempt: 1), Assert.Single(t.State.Items));
    }

    [Fact]
    public void Apply_CallFailedOnLastAttempt_FailsTheRunWithTheError()
    {
        var last = WorkItem.Discovery(s_t0, attempt: 2);

        var t = Apply(State(last), last, new CallFailed(500, Boom, Final: false, null));

        Assert.Equal(new Completion(RunStatus.Failed, null, Boom), t.Completion);
        Assert.Equal(new AttemptLog("step", null, 2, Boom, null), Assert.Single(t.Attempts));
        Assert.Empty(t.State.Items);
    }

    [Fact]
    public void Apply_CallFailedFinal_FailsTheRunOnTheFirstAttempt()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, new CallFailed(400, Boom, Final: true, null));

        Assert.Equal(new Completion(RunStatus.Failed, null, Boom), t.Completion);
        Assert.Empty(t.State.Items);
    }

    [Fact]
    public void Apply_FunctionCompleted_CompletesTheRunAndDropsPendingWork()
    {
        var state = State(s_discovery, SleepItem("s1", s_t0.AddHours(1)));

        var t = Apply(state, s_discovery, new FunctionCompleted("""{"ok":true}"""));

        Assert.Equal(new Completion(RunStatus.Completed, """{"ok":true}""", null), t.Completion);
        Assert.Empty(t.State.Items);
        Assert.Empty(t.Memos);
    }

    [Fact]
    public void Apply_FunctionCompletedWithOutputPostgresCannotStore_FailsTheRunClearly()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, new FunctionCompleted("""{"text":"a\u0000b"}"""));

        Assert.Equal(RunStatus.Failed, t.Completion!.Status);
        Assert.Null(t.Completion.OutputJson);
        Assert.Equal("UnstorableOutputError", ErrorName(t.Completion.ErrorJson!, wrapped: false));
    }

    [Fact]
    public void Apply_RunCompleteWithDataPostgresCannotStore_FailsTheRunClearly()
    {
        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(RunComplete("\"\\ud800\"")));

        Assert.Equal(RunStatus.Failed, t.Completion!.Status);
        Assert.Equal("UnstorableOutputError", ErrorName(t.Completion.ErrorJson!, wrapped: false));
    }

    public static TheoryData<string> UnstorableErrors => new()
    {
        """{"name":"Error","message":"a\u0000b"}""",
        """{"name":"Error","message":"lone \udc00"}""",
        """{"name":"Error","message":"m","cause":{"k\u0000":1}}""",
    };

    [Theory]
    [MemberData(nameof(UnstorableErrors))]
    public void Apply_ErrorsPostgresCannotStore_AreReplacedByStorableErrors(string error)
    {
        var p1 = Step("p1", s_t0);
        var retried = Apply(State(p1), p1, Ops(StepError("p1", error)));
        var failed = Apply(State(p1), p1, Ops(true, null, StepFailed("p1", error)));
        var callFailed = Apply(State(p1), p1 with { Attempt = 2 }, new CallFailed(500, error, Final: false, null));

        string[] stored =
        [
            Assert.Single(retried.Attempts).ErrorJson,
            Assert.Single(failed.Attempts).ErrorJson,
            Assert.Single(failed.Memos).OutputJson,
            Assert.Single(callFailed.Attempts).ErrorJson,
            callFailed.Completion!.ErrorJson!,
        ];
        Assert.All(stored, json => Assert.Null(JsonSafety.FindUnstorable(json)));
        Assert.Equal("UnstorableOutputError", ErrorName(callFailed.Completion.ErrorJson!, wrapped: false));
    }

    // ---- Limits ------------------------------------------------------------------------------------------------

    [Fact]
    public void Apply_StepBeyondMaxSteps_FailsTheRunWithStepLimitError()
    {
        var policy = s_policy with { MaxSteps = 2 };

        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepRun("c", "3")), memoized: Memoized("a", "b"), policy: policy);

        Assert.Equal(RunStatus.Failed, t.Completion!.Status);
        Assert.Equal("StepLimitError", ErrorName(t.Completion.ErrorJson!, wrapped: false));
        Assert.Contains("2 steps", ErrorMessage(t.Completion.ErrorJson!, wrapped: false), StringComparison.Ordinal);
        Assert.Empty(t.State.Items);
    }

    [Fact]
    public void Apply_StepReachingMaxSteps_Continues()
    {
        var policy = s_policy with { MaxSteps = 2 };

        var t = Apply(RunState.Start(s_t0), s_discovery, Ops(StepRun("b", "2")), memoized: Memoized("a"), policy: policy);

        Assert.Null(t.Completion);
        AssertOnlyDiscoveryPending(t, s_t0);
    }

    // ---- Whole runs and the stored snapshot --------------------------------------------------------------------

    [Fact]
    public void Apply_TwoSequentialStepsThenReturn_CompletesAfterThreeCalls()
    {
        var memo = Memoized();
        var state = RunState.Start(s_t0);
        var replies = new CallOutcome[] { Ops(StepRun("a", "\"A\"")), Ops(StepRun("b", "\"AB\"")), new FunctionCompleted("\"AB\"") };
        Transition? last = null;
        foreach (var reply in replies)
        {
            var call = Assert.IsType<CallDecision>(RunStateMachine.Next(state, memo, s_t0));
            last = Apply(state, Assert.Single(call.Items), reply, memo);
            memo.UnionWith(last.Memos.Select(m => m.StepId));
            state = last.State;
        }

        Assert.Equal(["a", "b"], memo.Order());
        Assert.Equal(new Completion(RunStatus.Completed, "\"AB\"", null), last!.Completion);
    }

    [Fact]
    public void RunState_JsonRoundTrip_KeepsEveryField()
    {
        var state = State(
            WorkItem.Discovery(s_t0, attempt: 2),
            Step("p1", s_t0.AddSeconds(1), attempt: 1) with { DisplayName = "P one" },
            SleepItem("s1", s_t0.AddHours(1)),
            WaitItem("w1", s_t0.AddDays(2)) with { Expression = "async.data.id == event.data.id" }) with { DisableImmediateExecution = true };

        var copy = RunState.FromJson(state.ToJson());

        Assert.Equal(state.Items, copy.Items);
        Assert.True(copy.DisableImmediateExecution);
    }
}
