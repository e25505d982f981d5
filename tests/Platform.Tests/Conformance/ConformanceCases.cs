using System.Globalization;
using System.Text.Json;
using Platform.Tests.EndToEnd;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Conformance;

/// <summary>
/// The conformance cases: the Node app on the real <c>inngest</c> SDK 4.24.0 (tests/inngest-app) against the
/// platform, checked through the REST API (final status, output, steps, attempts, events) and the app's own log of
/// step-body executions (which steps ran, how many times). Run once per mode by <see cref="DevModeConformanceTests"/>
/// and <see cref="SignedModeConformanceTests"/>. Each case uses fresh event ids and data, so cases never see each
/// other's runs.
/// </summary>
public abstract class ConformanceCases(ConformanceFixture fixture, ITestOutputHelper output)
{
    private const string Prefix = ConformanceFixture.Prefix;

    private static string Fresh() => Guid.NewGuid().ToString("N");

    private static string? Status(JsonElement run) => ConformanceFixture.Status(run);

    private static string Id(JsonElement run) => ConformanceFixture.Id(run);

    private static string[] StepNames(JsonElement run) =>
        run.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("name").GetString() ?? "").ToArray();

    private static TimeSpan Duration(JsonElement run) =>
        run.GetProperty("endedAt").GetDateTimeOffset() - run.GetProperty("startedAt").GetDateTimeOffset();

    private static JsonElement Step(JsonElement run, string name) =>
        Assert.Single(run.GetProperty("steps").EnumerateArray(), s => s.GetProperty("name").GetString() == name);

    // ---- sync ----

    [Fact]
    public async Task Sync_NodeApp_RegistersEveryFunctionAsTheSdkDescribesIt()
    {
        var functions = await fixture.GetAsync($"/api/v1/functions?app={ConformanceFixture.AppId}");

        var slugs = functions.EnumerateArray().Select(f => f.GetProperty("slug").GetString()).Order(StringComparer.Ordinal).ToArray();
        string[] expected =
        [
            "big-spender", "cancellable", "counter", "crashy", "doomed", "doomed-failure", "fails", "fanout", "flaky", "idempotent",
            "invokee", "invoker", "no-retry", "receiver", "retry-after", "sender", "sleep-until", "sleepy", "two-steps", "two-triggers", "waiter",
        ];
        Assert.Equal(expected.Select(e => Prefix + e), slugs);
        Assert.All(functions.EnumerateArray(), f => Assert.StartsWith(fixture.App.ServeUrl, f.GetProperty("url").GetString()!, StringComparison.Ordinal));

        var cancellable = await fixture.GetAsync($"/api/v1/functions/{Prefix}cancellable");
        JsonAssert.Equal("""[{"event":"test/cancellable.cancel","timeout":"1m","if":"event.data.id == async.data.id"}]""", cancellable.GetProperty("config").GetProperty("cancel"));
        var bigSpender = await fixture.GetAsync($"/api/v1/functions/{Prefix}big-spender");
        JsonAssert.Equal("""[{"event":"test/purchase","expression":"event.data.amount > 100"}]""", bigSpender.GetProperty("triggers"));
        var twoTriggers = await fixture.GetAsync($"/api/v1/functions/{Prefix}two-triggers");
        JsonAssert.Equal("""[{"event":"test/multi.a"},{"event":"test/multi.b"}]""", twoTriggers.GetProperty("triggers"));

        if (!fixture.Signed)
        {
            // In dev mode the app can also be synced directly (PUT to the app); an unchanged app is accepted again.
            Assert.Equal("Successfully registered", (await fixture.App.SyncAsync()).GetProperty("message").GetString());
        }
    }

    // ---- step.run ----

    [Fact]
    public async Task StepRun_Sequential_EachStepRunsOnceAndFeedsTheNext()
    {
        var x = Fresh();
        var run = await fixture.RunToEndAsync("two-steps", "test/two-steps", new { x });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal($$"""{"a":"A:{{x}}","b":"A:{{x}}|B"}""", run.GetProperty("output"));
        Assert.Equal(["a", "b"], StepNames(run));
        Assert.Equal(["a", "b"], fixture.Executed("two-steps", Id(run)));
    }

    [Fact]
    public async Task StepRun_Parallel_EachStepRunsOnceAndTheSumSeesAll()
    {
        var run = await fixture.RunToEndAsync("fanout", "test/fanout", new { tag = Fresh() });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"sum":6}""", run.GetProperty("output"));
        Assert.Equal(["p1", "p2", "p3", "sum"], StepNames(run).Order(StringComparer.Ordinal));
        Assert.Equal(["p1", "p2", "p3", "sum"], fixture.Executed("fanout", Id(run)).Order(StringComparer.Ordinal));
    }

    // ---- step.sleep, step.sleepUntil ----

    [Fact]
    public async Task Sleep_OneSecond_CompletesAfterTheSleepWithEachStepRunOnce()
    {
        var run = await fixture.RunToEndAsync("sleepy", "test/sleepy", new { tag = Fresh() });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"slept":true}""", run.GetProperty("output"));
        var nap = Step(run, "nap");
        Assert.Equal(("Sleep", "Completed"), (nap.GetProperty("op").GetString(), nap.GetProperty("status").GetString()));
        Assert.Equal(["before", "nap", "after"], StepNames(run));
        Assert.Equal(["before", "after"], fixture.Executed("sleepy", Id(run)));
        Assert.True(Duration(run) >= TimeSpan.FromSeconds(1), $"the 1 s sleep ended after {Duration(run).TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task SleepUntil_ATimeOneSecondAhead_CompletesNoEarlierWithEachStepRunOnce()
    {
        var until = DateTimeOffset.UtcNow.AddSeconds(1.5);
        var untilText = until.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        var run = await fixture.RunToEndAsync("sleep-until", "test/sleep-until", new { until = untilText, tag = Fresh() });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal($$"""{"until":"{{untilText}}"}""", run.GetProperty("output"));
        Assert.Equal(["before", "until", "after"], StepNames(run));
        Assert.Equal("Sleep", Step(run, "until").GetProperty("op").GetString());
        var executions = fixture.Executions("sleep-until", Id(run));
        Assert.Equal(["before", "after"], executions.Select(e => e.Step));
        var after = executions[1].At!.Value;
        Assert.True(after >= until.AddMilliseconds(-1) && run.GetProperty("endedAt").GetDateTimeOffset() >= until.AddMilliseconds(-1),
            $"'after' ran at {after:O}, the run ended at {run.GetProperty("endedAt")}, the sleep was until {untilText}");
    }

    // ---- step.waitForEvent ----

    [Fact]
    public async Task WaitForEvent_MatchingEvent_ResumesWithThatEvent()
    {
        var id = Fresh();
        var runId = await fixture.StartAsync("waiter", "test/waiter", new { id, timeout = "30s" });
        await fixture.WaitRunAsync(runId, r => Status(r) == "Waiting", "to wait for test/approve");

        await fixture.SendAsync("test/approve", new { id, by = "alice" }, $"approve-{id}");
        var run = await fixture.FinalAsync(runId);

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"approved":true,"by":"alice"}""", run.GetProperty("output"));
        Assert.Equal("WaitForEvent", Step(run, "wait-approve").GetProperty("op").GetString());
        Assert.True(Duration(run) < TimeSpan.FromSeconds(30));
        Assert.Empty(fixture.Executed("waiter", runId));
    }

    [Fact]
    public async Task WaitForEvent_EventFailingTheIfExpression_IsIgnoredAndTheMatchingOneResumes()
    {
        var id = Fresh();
        var runId = await fixture.StartAsync("waiter", "test/waiter", new { id, timeout = "30s" });
        await fixture.WaitRunAsync(runId, r => Status(r) == "Waiting", "to wait for test/approve");

        // `if: "async.data.id == event.data.id"`: mallory's approval is for another id and must not resume the run.
        await fixture.SendAsync("test/approve", new { id = $"other-{id}", by = "mallory" }, $"approve-other-{id}");
        Assert.Equal("Waiting", Status(await fixture.RunAsync(runId)));
        await fixture.SendAsync("test/approve", new { id, by = "alice" }, $"approve-{id}");
        var run = await fixture.FinalAsync(runId);

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"approved":true,"by":"alice"}""", run.GetProperty("output"));
    }

    [Fact]
    public async Task WaitForEvent_NoEventWithinTheTimeout_ResumesWithNull()
    {
        var run = await fixture.RunToEndAsync("waiter", "test/waiter", new { id = Fresh(), timeout = "1s" });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"approved":false,"by":null}""", run.GetProperty("output"));
        Assert.True(Duration(run) >= TimeSpan.FromSeconds(1), $"the 1 s wait ended after {Duration(run).TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task WaitForEvent_MatchingEventSentBeforeTheWait_IsNotSeen()
    {
        // Only events received after the wait began count: an approval sent before the run exists must not resume it.
        var id = Fresh();
        await fixture.SendAsync("test/approve", new { id, by = "early" }, $"approve-early-{id}");
        var run = await fixture.RunToEndAsync("waiter", "test/waiter", new { id, timeout = "1s" });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"approved":false,"by":null}""", run.GetProperty("output"));
    }

    // ---- step.invoke ----

    /// <summary>The invokee run started by an invoker run that passed it <paramref name="tag"/>.</summary>
    private Task<JsonElement> InvokedRunAsync(string tag) =>
        fixture.FindRunAsync(Prefix + "invokee", e => e.GetProperty("data").TryGetProperty("tag", out var t) && t.GetString() == tag, $"the invokee run tagged {tag}");

    [Fact]
    public async Task Invoke_InvokeeCompletes_InvokerGetsItsResult()
    {
        var tag = Fresh();
        var run = await fixture.RunToEndAsync("invoker", "test/invoker", new { n = 21, tag });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"result":{"doubled":42,"trigger":"inngest/function.invoked"}}""", run.GetProperty("output"));
        var step = Assert.Single(run.GetProperty("steps").EnumerateArray());
        Assert.Equal(("call-invokee", "InvokeFunction"), (step.GetProperty("name").GetString(), step.GetProperty("op").GetString()));
        var child = await fixture.FinalAsync(Id(await InvokedRunAsync(tag)));
        Assert.Equal("Completed", Status(child));
        Assert.Equal("inngest/function.invoked", child.GetProperty("event").GetProperty("name").GetString());
        Assert.Equal(["double"], fixture.Executed("invokee", Id(child)));
    }

    [Fact]
    public async Task Invoke_InvokeeFails_InvokerCatchesItsError()
    {
        var tag = Fresh();
        var run = await fixture.RunToEndAsync("invoker", "test/invoker", new { n = 1, fail = true, tag });

        Assert.Equal("Completed", Status(run));
        var error = run.GetProperty("output").GetProperty("error");
        Assert.Equal("invokee failed on purpose", error.GetProperty("message").GetString());
        var child = await fixture.FinalAsync(Id(await InvokedRunAsync(tag)));
        Assert.Equal("Failed", Status(child));
        Assert.Equal(child.GetProperty("error").GetProperty("name").GetString(), error.GetProperty("name").GetString());
        Assert.Equal(["double"], fixture.Executed("invokee", Id(child)));
    }

    [Fact]
    public async Task Invoke_InvokeeOutlivesTheTimeout_InvokerGetsTheTimeoutErrorAndKeepsIt()
    {
        var tag = Fresh();
        var run = await fixture.RunToEndAsync("invoker", "test/invoker", new { n = 2, sleep = "2s", timeout = "1s", tag });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal(
            """{"error":{"name":"InngestInvokeTimeoutError","message":"Timed out waiting for invoked function to complete"}}""",
            run.GetProperty("output"));

        // The invokee goes on and completes later; the invoker keeps the timeout.
        var child = await fixture.FinalAsync(Id(await InvokedRunAsync(tag)));
        Assert.Equal("Completed", Status(child));
        Assert.True(child.GetProperty("endedAt").GetDateTimeOffset() > run.GetProperty("endedAt").GetDateTimeOffset());
        Assert.Equal(["double"], fixture.Executed("invokee", Id(child)));
        var after = await fixture.RunAsync(Id(run));
        JsonAssert.Equal(run.GetProperty("output").GetRawText(), after.GetProperty("output"));
        Assert.Equal(run.GetProperty("endedAt").GetDateTimeOffset(), after.GetProperty("endedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task Invoke_UnknownFunction_InvokerGetsCouldNotFindFunction()
    {
        var run = await fixture.RunToEndAsync("invoker", "test/invoker", new { unknown = true, tag = Fresh() });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal(
            $$$"""{"error":{"name":"Error","message":"could not find function with ID: {{{Prefix}}}no-such-function"}}""",
            run.GetProperty("output"));
    }

    // ---- step.sendEvent ----

    [Fact]
    public async Task SendEvent_Step_TheEventIsStoredAndTheRunItTriggersCompletes()
    {
        var tag = Fresh();
        var run = await fixture.RunToEndAsync("sender", "test/sender", new { tag });

        Assert.Equal("Completed", Status(run));
        // The SDK sends step.sendEvent as a StepRun op named "sendEvent"; the step is shown under the user's id.
        Assert.Equal(["send-it"], StepNames(run));
        var sentId = Assert.Single(run.GetProperty("output").GetProperty("ids").EnumerateArray()).GetString()!;
        var sent = await fixture.GetAsync($"/api/v1/events/{sentId}");
        Assert.Equal("test/sent", sent.GetProperty("name").GetString());
        JsonAssert.Equal($$"""{"tag":"{{tag}}"}""", sent.GetProperty("data"));
        Assert.Single(await fixture.EventsAsync("test/sent", d => d.GetProperty("tag").GetString() == tag));

        var triggered = Assert.Single((await fixture.GetAsync($"/api/v1/events/{sentId}/runs")).EnumerateArray());
        Assert.Equal(Prefix + "receiver", triggered.GetProperty("functionSlug").GetString());
        var received = await fixture.FinalAsync(Id(triggered));
        Assert.Equal("Completed", Status(received));
        JsonAssert.Equal($$"""{"tag":"{{tag}}"}""", received.GetProperty("output"));
        Assert.Equal(["receive"], fixture.Executed("receiver", Id(received)));
    }

    // ---- retries and errors ----

    [Fact]
    public async Task Retries_StepFailsTwice_CompletesOnTheThirdAttempt()
    {
        var run = await fixture.RunToEndAsync("flaky", "test/flaky", new { tag = Fresh() });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"result":"ok"}""", run.GetProperty("output"));
        Assert.Equal([0, 1, 2], fixture.Executions("flaky", Id(run)).Select(e => e.Attempt));
        Assert.Equal(2, Step(run, "flaky-step").GetProperty("failedAttempts").GetArrayLength());
    }

    [Fact]
    public async Task Retries_StepAlwaysThrows_RunFailsAfterEveryAttempt()
    {
        var run = await fixture.RunToEndAsync("fails", "test/fails", new { tag = Fresh() });

        Assert.Equal("Failed", Status(run));
        Assert.Equal("boom", run.GetProperty("error").GetProperty("message").GetString());
        // retries: 1 → two attempts of the step body, then the run fails.
        Assert.Equal([0, 1], fixture.Executions("fails", Id(run)).Select(e => e.Attempt));
    }

    [Fact]
    public async Task NonRetriableError_DespiteRetries_OneAttemptAndTheRunFails()
    {
        var run = await fixture.RunToEndAsync("no-retry", "test/no-retry", new { tag = Fresh() });

        Assert.Equal("Failed", Status(run));
        Assert.Equal("not worth retrying", run.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("NonRetriableError", run.GetProperty("error").GetProperty("name").GetString());
        Assert.Equal([0], fixture.Executions("no-retry", Id(run)).Select(e => e.Attempt));
    }

    [Fact]
    public async Task RetryAfterError_TwoSeconds_TheRetryComesNoEarlier()
    {
        var run = await fixture.RunToEndAsync("retry-after", "test/retry-after", new { tag = Fresh() });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"result":{"attempt":1}}""", run.GetProperty("output"));
        var executions = fixture.Executions("retry-after", Id(run));
        Assert.Equal([0, 1], executions.Select(e => e.Attempt));

        // The run detail: the failed attempt asked for a retry 2 s after it (the SDK sent Retry-After: 2), and the
        // successful call started no earlier. The attempt's time is stamped when it is stored, a few ms after the
        // reply the 2 s count from, hence the 100 ms allowance on that one difference.
        var step = Step(run, "throttled");
        var failed = Assert.Single(step.GetProperty("failedAttempts").EnumerateArray());
        var failedAt = failed.GetProperty("at").GetDateTimeOffset();
        var retryAt = failed.GetProperty("retryAt").GetDateTimeOffset();
        var retriedAt = step.GetProperty("startedAt").GetDateTimeOffset();
        output.WriteLine($"failed at {failedAt:HH:mm:ss.fff}, retry at {retryAt:HH:mm:ss.fff}, retried at {retriedAt:HH:mm:ss.fff}; " +
            $"the app ran the step at {executions[0].At:HH:mm:ss.fff} and {executions[1].At:HH:mm:ss.fff}");
        Assert.True(retryAt - failedAt >= TimeSpan.FromMilliseconds(1900), $"retry planned {(retryAt - failedAt).TotalMilliseconds:0} ms after the failure");
        Assert.True(retriedAt >= retryAt, $"retried at {retriedAt:O}, before the planned {retryAt:O}");
        // And on the app's own clock: the second execution came at least 2 s after the first.
        Assert.True(executions[1].At - executions[0].At >= TimeSpan.FromSeconds(2), $"executions {(executions[1].At - executions[0].At)?.TotalMilliseconds:0} ms apart");
    }

    // ---- onFailure ----

    /// <summary>The run of the failure handler started by the failure of <paramref name="failedRunId"/>.</summary>
    private Task<JsonElement> HandlerRunAsync(string failedRunId) =>
        fixture.FindRunAsync(Prefix + "doomed-failure", e => e.GetProperty("data").GetProperty("run_id").GetString() == failedRunId,
            $"the failure handler's run for {failedRunId}");

    [Fact]
    public async Task OnFailure_RunFailsForGood_HandlerRunsOnceWithTheErrorAndTheOriginalEvent()
    {
        var tag = Fresh();
        var run = await fixture.RunToEndAsync("doomed", "test/doomed", new { tag });
        var runId = Id(run);

        Assert.Equal("Failed", Status(run));
        Assert.Equal("doomed on attempt 1", run.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(["explode", "explode"], fixture.Executed("doomed", runId));

        var handler = await fixture.FinalAsync(Id(await HandlerRunAsync(runId)));
        Assert.Equal("Completed", Status(handler));
        JsonAssert.Equal(
            $$$"""{"message":"doomed on attempt 1","originalEvent":"test/doomed","failedRunId":"{{{runId}}}","tag":"{{{tag}}}"}""",
            handler.GetProperty("output"));
        Assert.Equal(["report"], fixture.Executed("doomed-failure", Id(handler)));
        Assert.Single(await fixture.EventsAsync("inngest/function.failed", d => d.GetProperty("run_id").GetString() == runId));
    }

    [Fact]
    public async Task OnFailure_HandlerFailsToo_ItIsNotStartedAgain()
    {
        var run = await fixture.RunToEndAsync("doomed", "test/doomed", new { failHandler = true, tag = Fresh() });
        Assert.Equal("Failed", Status(run));

        var handler = await fixture.FinalAsync(Id(await HandlerRunAsync(Id(run))));
        Assert.Equal("Failed", Status(handler));
        Assert.Equal("the failure handler failed too", handler.GetProperty("error").GetProperty("message").GetString());

        // Once the handler's end is processed (its outbox row published: the one internal read here, as the API
        // shows no such thing), it has sent nothing that could start a handler again.
        await Eventually.WaitAsync(
            () => fixture.Platform.ScalarAsync<long>("SELECT count(*) FROM platform.run_outbox WHERE run_id = @id AND published_at IS NOT NULL", ("id", Id(handler))),
            n => n == 1, PlatformHttp.RunTimeout, "the handler's end to be processed");
        foreach (var name in new[] { "inngest/function.failed", "inngest/function.finished" })
        {
            Assert.Empty(await fixture.EventsAsync(name, d => d.TryGetProperty("run_id", out var r) && r.GetString() == Id(handler)));
        }

        Assert.Single(await fixture.EventsAsync("inngest/function.failed", d => d.GetProperty("run_id").GetString() == Id(run)));
        Assert.Equal(["report"], fixture.Executed("doomed-failure", Id(handler)));
    }

    // ---- cancelOn ----

    [Fact]
    public async Task CancelOn_MatchingEventDuringTheSleep_RunCancelledAndTheStepAfterItNeverRuns()
    {
        var id = Fresh();
        var runId = await fixture.StartAsync("cancellable", "test/cancellable", new { id, sleep = "2s" });
        var sleeping = await fixture.WaitRunAsync(runId, r => Status(r) == "Sleeping", "to sleep");
        var wakeAt = sleeping.GetProperty("nextWakeAt").GetDateTimeOffset();

        await fixture.SendAsync("test/cancellable.cancel", new { id = $"other-{id}" }, $"cancel-other-{id}");
        await fixture.SendAsync("test/cancellable.cancel", new { id }, $"cancel-{id}");
        var run = await fixture.FinalAsync(runId);
        Assert.Equal("Cancelled", Status(run));

        // Past the wake time the run is still cancelled and "after" never ran.
        await Eventually.WaitAsync(() => Task.FromResult(DateTimeOffset.UtcNow), t => t > wakeAt + TimeSpan.FromSeconds(0.5), PlatformHttp.RunTimeout, "the sleep's wake time to pass");
        var after = await fixture.RunAsync(runId);
        Assert.Equal("Cancelled", Status(after));
        Assert.Equal(JsonValueKind.Null, after.GetProperty("output").ValueKind);
        Assert.Equal(["before"], fixture.Executed("cancellable", runId));
    }

    [Fact]
    public async Task CancelOn_EventForAnotherId_RunCompletes()
    {
        var id = Fresh();
        var runId = await fixture.StartAsync("cancellable", "test/cancellable", new { id, sleep = "1s" });
        await fixture.WaitRunAsync(runId, r => Status(r) == "Sleeping", "to sleep");

        await fixture.SendAsync("test/cancellable.cancel", new { id = $"not-{id}" }, $"cancel-not-{id}");
        var run = await fixture.FinalAsync(runId);

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"finished":true}""", run.GetProperty("output"));
        Assert.Equal(["before", "after"], fixture.Executed("cancellable", runId));
    }

    // ---- triggers ----

    [Fact]
    public async Task Cron_EveryTwoSeconds_EachTickRunsOnceWithTheTimerEvent()
    {
        // Its own app (PARITY_CRON=1 serves only "ticker"), archived at the end so that it stops firing.
        const string appId = "cron-app";
        var log = Path.Combine(Path.GetTempPath(), $"platform-conformance-cron-{Fresh()}.log");
        List<string> runIds;
        IReadOnlyList<ExecEntry> execLog;
        var app = await fixture.StartAppAsync(log, new Dictionary<string, string> { ["APP_ID"] = appId, ["PARITY_CRON"] = "1" });
        try
        {
            var completed = await Eventually.WaitAsync(
                async () => (await fixture.GetAsync($"/api/v1/runs?function={appId}-ticker&status=Completed&limit=200"))
                    .GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetString()!).ToList(),
                r => r.Count >= 2,
                PlatformHttp.RunTimeout,
                "two ticks of the cron to have run");
            runIds = completed;
        }
        finally
        {
            await fixture.ArchiveAppAsync(appId, app.ServeUrl);
            execLog = app.ReadExecLog();
            app.Dispose();
            File.Delete(log);
        }

        var ticks = new List<DateTimeOffset>();
        foreach (var runId in runIds)
        {
            var run = await fixture.RunAsync(runId);
            var result = run.GetProperty("output");
            Assert.Equal("inngest/scheduled.timer", result.GetProperty("name").GetString());
            Assert.Equal("TZ=Europe/Paris */2 * * * * *", result.GetProperty("cron").GetString());
            Assert.Equal("inngest/scheduled.timer", run.GetProperty("event").GetProperty("name").GetString());
            Assert.Single(execLog, e => e.RunId == runId && e.Step == "tick");
            ticks.Add(DateTimeOffset.Parse(result.GetProperty("at").GetString()!, CultureInfo.InvariantCulture));
        }

        Assert.Equal(ticks.Count, ticks.Distinct().Count());
        Assert.All(ticks, t => Assert.Equal(0, t.ToUnixTimeSeconds() % 2));
        output.WriteLine($"ticker: {ticks.Count} runs at {string.Join(", ", ticks.Order().Select(t => t.ToString("HH:mm:ss", CultureInfo.InvariantCulture)))}");
    }

    [Fact]
    public async Task TriggerExpression_OnlyTheMatchingEventStartsARun()
    {
        var tag = Fresh();
        var small = await fixture.SendAsync("test/purchase", new { amount = 50, tag }, $"purchase-small-{tag}");
        // Runs are created in the send's own transaction: once it answered, the event has all the runs it will have.
        Assert.Empty((await fixture.GetAsync($"/api/v1/events/{small}/runs")).EnumerateArray());

        var big = await fixture.SendAsync("test/purchase", new { amount = 150, tag }, $"purchase-big-{tag}");
        var started = Assert.Single((await fixture.GetAsync($"/api/v1/events/{big}/runs")).EnumerateArray());
        Assert.Equal(Prefix + "big-spender", started.GetProperty("functionSlug").GetString());
        var run = await fixture.FinalAsync(Id(started));

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"amount":150}""", run.GetProperty("output"));
        Assert.Equal(["record"], fixture.Executed("big-spender", Id(run)));
        Assert.Empty((await fixture.GetAsync($"/api/v1/events/{small}/runs")).EnumerateArray());
    }

    [Fact]
    public async Task MultipleTriggers_EitherEventStartsARun()
    {
        var tag = Fresh();
        var a = await fixture.SendAsync("test/multi.a", new { tag }, $"multi-a-{tag}");
        var b = await fixture.SendAsync("test/multi.b", new { tag }, $"multi-b-{tag}");

        foreach (var (eventId, name) in new[] { (a, "test/multi.a"), (b, "test/multi.b") })
        {
            var run = await fixture.FinalAsync(await PlatformHttp.RunIdOfEventAsync(fixture.Api, Prefix + "two-triggers", eventId));
            Assert.Equal("Completed", Status(run));
            JsonAssert.Equal($$"""{"name":"{{name}}","tag":"{{tag}}"}""", run.GetProperty("output"));
            Assert.Equal(["which"], fixture.Executed("two-triggers", Id(run)));
            Assert.Single((await fixture.GetAsync($"/api/v1/events/{eventId}/runs")).EnumerateArray());
        }
    }

    [Fact]
    public async Task WildcardTrigger_MatchingName_StartsARun()
    {
        var run = await fixture.RunToEndAsync("counter", "test/prefix/x", new { tag = Fresh() });

        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal("""{"name":"test/prefix/x"}""", run.GetProperty("output"));
        Assert.Equal(["count"], fixture.Executed("counter", Id(run)));
    }

    // ---- event ids, idempotency ----

    [Fact]
    public async Task EventIdDedupe_SameIdSentTwice_OneEventOneRun()
    {
        var x = Fresh();
        var id = $"dedupe-{x}";
        var first = await fixture.SendAsync("test/two-steps", new { x }, id);
        var second = await fixture.SendAsync("test/two-steps", new { x }, id);

        Assert.Equal(first, second);
        var stored = Assert.Single(await fixture.EventsAsync("test/two-steps", d => d.TryGetProperty("x", out var v) && v.GetString() == x));
        Assert.Equal(id, stored.GetProperty("eventId").GetString());
        var started = Assert.Single((await fixture.GetAsync($"/api/v1/events/{first}/runs")).EnumerateArray());
        var run = await fixture.FinalAsync(Id(started));
        Assert.Equal("Completed", Status(run));
        Assert.Equal(["a", "b"], fixture.Executed("two-steps", Id(run)));
        var runs = await fixture.RunsWhereAsync(Prefix + "two-steps", e => e.GetProperty("data").TryGetProperty("x", out var v) && v.GetString() == x);
        Assert.Equal([Id(run)], runs.Select(Id));
    }

    [Fact]
    public async Task Idempotency_TwoEventsForOneUser_OneRunAndItsStepRanOnce()
    {
        var user = Fresh();
        var first = await fixture.SendAsync("test/idempotent", new { user, n = 1 }, $"idem-1-{user}");
        var second = await fixture.SendAsync("test/idempotent", new { user, n = 2 }, $"idem-2-{user}");
        var other = await fixture.StartAsync("idempotent", "test/idempotent", new { user = $"other-{user}", n = 3 });

        var runId = await PlatformHttp.RunIdOfEventAsync(fixture.Api, Prefix + "idempotent", first);
        var run = await fixture.FinalAsync(runId);
        Assert.Equal("Completed", Status(run));
        JsonAssert.Equal($$$"""{"user":"{{{user}}}","n":1}""", run.GetProperty("output"));
        Assert.Equal("Completed", Status(await fixture.FinalAsync(other)));

        // Both events are stored; only the first started a run.
        Assert.Equal(2, (await fixture.EventsAsync("test/idempotent", d => d.GetProperty("user").GetString() == user)).Count);
        Assert.Empty((await fixture.GetAsync($"/api/v1/events/{second}/runs")).EnumerateArray());
        Assert.Equal(["greet"], fixture.Executed("idempotent", runId));
    }
}

/// <summary>The conformance cases against a dev-mode platform, the SDK in dev mode.</summary>
public sealed class DevModeConformanceTests(DevModeFixture fixture, ITestOutputHelper output)
    : ConformanceCases(fixture, output), IClassFixture<DevModeFixture>;

/// <summary>The conformance cases against a production-mode platform, the SDK in cloud mode: every call signed.</summary>
public sealed class SignedModeConformanceTests(SignedModeFixture fixture, ITestOutputHelper output)
    : ConformanceCases(fixture, output), IClassFixture<SignedModeFixture>;
