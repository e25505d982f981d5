using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace Platform.Tests.Executor;

/// <summary>Durable timers and waits: <c>step.sleep</c>, cancelling a sleeping run, <c>step.waitForEvent</c> with <c>if</c> and timeout.</summary>
[Collection(ExecutorCollection.Name)]
public sealed class SleepAndWaitTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    private static readonly string s_nap = AppOp.Id("nap");
    private static readonly string s_approve = AppOp.Id("approve");

    [Fact]
    public async Task Sleep_2s_RunSleepsThenCompletesNotBeforeTheWakeTime()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "sleep", retries: 3, call =>
            call.Steps.ContainsKey(s_nap) ? AppReply.Complete("{\"slept\":true}") : AppReply.Ops(AppOp.Sleep("nap", "2s")));

        var runId = await fixture.StartRunAsync(app);
        var sleeping = await fixture.WaitForStatusAsync(runId, "Sleeping");
        var wakeAt = sleeping.GetProperty("nextWakeAt").GetDateTimeOffset();
        var pending = Assert.Single(sleeping.GetProperty("steps").EnumerateArray());
        Assert.Equal(("Sleeping", s_nap), (pending.GetProperty("status").GetString(), pending.GetProperty("stepId").GetString()));

        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"slept\":true}", run.GetProperty("output"));
        var calls = await app.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout);
        Assert.Equal(2, calls.Count);
        var slept = calls[1].ReceivedAt - calls[0].ReceivedAt;
        var late = calls[1].ReceivedAt - wakeAt.UtcDateTime;
        output.WriteLine($"sleep 2s: next call {slept.TotalMilliseconds:0} ms after the first, {late.TotalMilliseconds:0} ms after next_wake_at");
        Assert.True(calls[1].ReceivedAt >= wakeAt.UtcDateTime, $"called at {calls[1].ReceivedAt:O}, before the wake time {wakeAt:O}");
        Assert.True(slept >= TimeSpan.FromSeconds(2), $"woke after {slept.TotalMilliseconds:0} ms");
        Assert.Equal(JsonValueKind.Null, calls[1].Steps[s_nap].ValueKind);

        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal((s_nap, "Sleep", "null"), (step.StepId, step.Op, step.OutputJson));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task Cancel_SleepingRun_CancelledAndTheAppIsNeverCalledAgain()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "cancel", retries: 3, call =>
            call.Steps.ContainsKey(s_nap) ? AppReply.Complete("{\"slept\":true}") : AppReply.Ops(AppOp.Sleep("nap", "2s")));

        var runId = await fixture.StartRunAsync(app);
        var sleeping = await fixture.WaitForStatusAsync(runId, "Sleeping");
        var wakeAt = sleeping.GetProperty("nextWakeAt").GetDateTimeOffset();

        using var cancel = await fixture.Platform.Http.PostAsync($"/api/v1/runs/{runId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);

        // Watch the run and the app until a second past the wake time: nothing may move.
        var polls = 0;
        while (DateTimeOffset.UtcNow < wakeAt + TimeSpan.FromSeconds(1))
        {
            var run = await fixture.GetRunAsync(runId);
            Assert.Equal("Cancelled", ExecutorPlatform.Status(run));
            Assert.Single(app.Calls);
            polls++;
            await Task.Delay(50);
        }

        output.WriteLine($"cancelled sleeping run watched until wake time + 1 s ({polls} polls): 1 call, status Cancelled");
        var final = await fixture.GetRunAsync(runId);
        Assert.Equal("Cancelled", ExecutorPlatform.Status(final));
        Assert.Equal(JsonValueKind.Null, final.GetProperty("nextWakeAt").ValueKind);
        Assert.Empty(await fixture.StepsAsync(runId));
        Assert.Single(app.Calls);
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task WaitForEvent_WithIf_OnlyAMatchingEventResumesWithTheEventAsOutput()
    {
        var orderId = $"o-{Guid.NewGuid():N}";
        string? approvalName = null;
        await using var app = await FakeApp.StartAsync(fixture.Platform, "waitif", retries: 3, call =>
            call.Steps.TryGetValue(s_approve, out var approval)
                ? AppReply.Complete($"{{\"approvedBy\":{approval.GetProperty("data").GetProperty("by").GetRawText()}}}")
                : AppReply.Ops(AppOp.WaitForEvent("approve", approvalName!, "1h", "async.data.orderId == event.data.orderId")));
        approvalName = $"{app.EventName}.approved";

        var runId = await fixture.StartRunAsync(app, $"{{\"orderId\":\"{orderId}\"}}");
        var waiting = await fixture.WaitForStatusAsync(runId, "Waiting");
        Assert.Equal("Waiting", Assert.Single(waiting.GetProperty("steps").EnumerateArray()).GetProperty("status").GetString());
        Assert.Equal(1, await fixture.WaitCountAsync(runId));

        // Matching happens inside the ingest transaction, so once the send is acknowledged the outcome is stored.
        await fixture.SendEventAsync(approvalName, "{\"orderId\":\"some-other-order\",\"by\":\"mallory\"}");
        Assert.Equal("Waiting", ExecutorPlatform.Status(await fixture.GetRunAsync(runId)));
        Assert.Equal(1, await fixture.WaitCountAsync(runId));
        Assert.Empty(await fixture.StepsAsync(runId));

        await fixture.SendEventAsync(approvalName, $"{{\"orderId\":\"{orderId}\",\"by\":\"alice\"}}");
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"approvedBy\":\"alice\"}", run.GetProperty("output"));
        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal((s_approve, "WaitForEvent"), (step.StepId, step.Op));
        Assert.Equal(approvalName, step.Output.GetProperty("name").GetString());
        JsonAssert.Equal($"{{\"orderId\":\"{orderId}\",\"by\":\"alice\"}}", step.Output.GetProperty("data"));
        Assert.Equal(0, await fixture.WaitCountAsync(runId));
        // Stored under the same names as a timed-out wait (the user's step id), not under the event's name.
        Assert.Equal("approve|approve", await StepNamesAsync(runId));

        var calls = await app.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout);
        Assert.Equal(2, calls.Count);
        JsonAssert.Equal(step.OutputJson, calls[1].Steps[s_approve]);
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task WaitForEvent_Timeout1s_ResumesWithNull()
    {
        string? approvalName = null;
        await using var app = await FakeApp.StartAsync(fixture.Platform, "waittimeout", retries: 3, call =>
            call.Steps.TryGetValue(s_approve, out var approval)
                ? AppReply.Complete($"{{\"timedOut\":{(approval.ValueKind == JsonValueKind.Null ? "true" : "false")}}}")
                : AppReply.Ops(AppOp.WaitForEvent("approve", approvalName!, "1s", null)));
        approvalName = $"{app.EventName}.approved";

        var runId = await fixture.StartRunAsync(app);
        await fixture.WaitForStatusAsync(runId, "Waiting");
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"timedOut\":true}", run.GetProperty("output"));
        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal((s_approve, "WaitForEvent", "null"), (step.StepId, step.Op, step.OutputJson));
        Assert.Equal(0, await fixture.WaitCountAsync(runId));
        Assert.Equal("approve|approve", await StepNamesAsync(runId));
        var calls = await app.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout);
        Assert.Equal(2, calls.Count);
        var waited = calls[1].ReceivedAt - calls[0].ReceivedAt;
        output.WriteLine($"waitForEvent timeout 1s: resumed {waited.TotalMilliseconds:0} ms after the first call");
        Assert.True(waited >= TimeSpan.FromSeconds(1), $"resumed after {waited.TotalMilliseconds:0} ms");
        Assert.Empty(app.ScriptErrors);
    }

    private async Task<string?> StepNamesAsync(string runId) =>
        await fixture.Platform.ScalarAsync<string>(
            "SELECT name || '|' || coalesce(display_name, '-') FROM platform.steps WHERE run_id = @id", ("id", runId));
}
