using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Parity;

/// <summary>
/// Cancellation (protocol.md §15.4): the <c>cancel</c> config (a later matching event, CEL <c>if</c> over
/// <c>event</c> and <c>async</c>, <c>timeout</c>) and bulk cancel by API; a cancelled run calls the app no more and
/// its pending sleep, wait or retry is dropped.
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class CancellationTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    private static readonly string s_nap = AppOp.Id("nap");

    private static string CancelEvent(FakeApp app) => $"cancel/{app.AppName}";

    /// <summary>A function config with one <c>cancel</c> entry on <c>cancel/&lt;app&gt;</c>.</summary>
    private static Action<FakeApp, JsonObject> CancelOn(string? condition = null, string? timeout = null) => (app, f) =>
    {
        var entry = new JsonObject { ["event"] = CancelEvent(app) };
        if (condition is not null)
        {
            entry["if"] = condition;
        }

        if (timeout is not null)
        {
            entry["timeout"] = timeout;
        }

        f["cancel"] = new JsonArray(entry);
    };

    /// <summary>An app whose function sleeps a minute, then completes.</summary>
    private Task<FakeApp> SleeperAsync(string name, Action<FakeApp, JsonObject>? configure) =>
        FakeApp.StartAsync(fixture.Platform, name, retries: 0, call =>
            call.Steps.ContainsKey(s_nap) ? AppReply.Complete("\"woke\"") : AppReply.Ops(AppOp.Sleep("nap", "1m")), configure);

    private async Task<string> StartSleepingAsync(FakeApp app, string dataJson = "{}")
    {
        var runId = await fixture.StartRunAsync(app, dataJson);
        await fixture.WaitForStatusAsync(runId, "Sleeping");
        return runId;
    }

    private int CallsOf(FakeApp app, string runId) => app.Calls.Count(c => c.RunId == runId);

    [Fact]
    public async Task CancelOn_EventWithMatchingIf_CancelsOnlyThatRun()
    {
        await using var app = await SleeperAsync("cancel-if", CancelOn("event.data.order == async.data.order"));
        var a = await StartSleepingAsync(app, "{\"order\":\"a\"}");
        var b = await StartSleepingAsync(app, "{\"order\":\"b\"}");

        await fixture.SendEventAsync(CancelEvent(app), "{\"order\":\"a\"}");
        var cancelled = await fixture.WaitForFinalAsync(a, "Cancelled");

        Assert.Equal(JsonValueKind.Null, cancelled.GetProperty("nextWakeAt").ValueKind);
        Assert.Equal("Sleeping", ExecutorPlatform.Status(await fixture.GetRunAsync(b)));
        Assert.Equal(1, CallsOf(app, a));
        Assert.Empty(await fixture.StepsAsync(a));
        await Eventually.WaitAsync(
            () => fixture.Platform.ScalarAsync<long>("SELECT count(*) FROM platform.events WHERE name = 'inngest/function.cancelled' AND data->>'run_id' = @id", ("id", a)),
            n => n == 1, ExecutorPlatform.RunTimeout, $"inngest/function.cancelled for {a}");
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task CancelOn_EventThatAlsoStartsARun_CancelsOlderRunsOnly()
    {
        // The function is triggered by its own cancel event: the run that event starts is not one it cancels.
        await using var app = await SleeperAsync("cancel-self", (self, f) =>
        {
            f["triggers"] = new JsonArray(new JsonObject { ["event"] = self.EventName });
            f["cancel"] = new JsonArray(new JsonObject { ["event"] = self.EventName });
        });
        var first = await StartSleepingAsync(app);

        var second = await StartSleepingAsync(app);

        await fixture.WaitForFinalAsync(first, "Cancelled");
        Assert.Equal("Sleeping", ExecutorPlatform.Status(await fixture.GetRunAsync(second)));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task CancelOn_Timeout_RunsOlderThanTheTimeoutAreNotCancelled()
    {
        await using var app = await SleeperAsync("cancel-timeout", CancelOn(timeout: "1s"));
        var old = await StartSleepingAsync(app);
        await Eventually.WaitAsync(
            () => fixture.Platform.ScalarAsync<bool>("SELECT now() - created_at > interval '1.2 seconds' FROM platform.runs WHERE id = @id", ("id", old)),
            older => older, ExecutorPlatform.RunTimeout, $"run {old} to be older than the 1 s timeout");
        var young = await StartSleepingAsync(app);

        await fixture.SendEventAsync(CancelEvent(app), "{}");

        await fixture.WaitForFinalAsync(young, "Cancelled");
        Assert.Equal("Sleeping", ExecutorPlatform.Status(await fixture.GetRunAsync(old)));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task CancelOn_RunWaitingForAnEventAndRunWithARetryPending_BothDroppedAndNeverCalledAgain()
    {
        var approve = AppOp.Id("approve");
        await using var waiter = await FakeApp.StartAsync(fixture.Platform, "cancel-wait", retries: 0, call =>
            call.Steps.ContainsKey(approve) ? AppReply.Complete("\"approved\"") : AppReply.Ops(AppOp.WaitForEvent("approve", "never/sent", "1m", null)),
            CancelOn());
        await using var retrier = await FakeApp.StartAsync(fixture.Platform, "cancel-retry", retries: 3, _ =>
            AppReply.Error(500, AppOp.ErrorJson("Error", "try later"), noRetry: false).WithHeader("Retry-After", "3"),
            (self, f) => f["cancel"] = new JsonArray(new JsonObject { ["event"] = CancelEvent(waiter) }));

        var waiting = await fixture.StartRunAsync(waiter);
        await fixture.WaitForStatusAsync(waiting, "Waiting");
        var retrying = await fixture.StartRunAsync(retrier);
        await retrier.WaitForCallsAsync(1, ExecutorPlatform.RunTimeout);
        await Eventually.WaitAsync(() => fixture.AttemptsAsync(retrying), a => a.Count == 1, ExecutorPlatform.RunTimeout, "the first failed attempt");

        await fixture.SendEventAsync(CancelEvent(waiter), "{}");
        await fixture.WaitForFinalAsync(waiting, "Cancelled");
        var cancelledRetry = await fixture.WaitForFinalAsync(retrying, "Cancelled");

        Assert.Equal(0L, await fixture.WaitCountAsync(waiting));
        var retryAt = Assert.Single(await fixture.AttemptsAsync(retrying)).RetryAt!.Value;
        // Watch past the retry time: nothing may call the app again.
        await Eventually.WaitAsync(() => Task.FromResult(DateTimeOffset.UtcNow), t => t > retryAt + TimeSpan.FromSeconds(1), ExecutorPlatform.RunTimeout, "the dropped retry's time to pass");
        Assert.Single(retrier.Calls);
        Assert.Single(waiter.Calls);
        Assert.Equal("Cancelled", ExecutorPlatform.Status(await fixture.GetRunAsync(retrying)));
        Assert.Equal(JsonValueKind.Null, cancelledRetry.GetProperty("nextWakeAt").ValueKind);
        Assert.Empty(waiter.ScriptErrors);
        Assert.Empty(retrier.ScriptErrors);
    }

    [Fact]
    public async Task CancelOn_WhileAStepIsInFlight_ItsReplyIsDiscardedAndTheAppIsNotCalledAgain()
    {
        var started = new TaskCompletionSource();
        await using var app = await FakeApp.StartAsync(fixture.Platform, "cancel-inflight", retries: 0, call =>
        {
            if (call.Steps.Count == 0)
            {
                started.TrySetResult();
                return AppReply.Ops(AppOp.StepRun("slow", "\"done\"")) with { Delay = TimeSpan.FromMilliseconds(1500) };
            }

            return AppReply.Complete("\"finished\"");
        }, CancelOn());

        var runId = await fixture.StartRunAsync(app);
        await started.Task.WaitAsync(ExecutorPlatform.RunTimeout);
        await fixture.SendEventAsync(CancelEvent(app), "{}");
        await fixture.WaitForFinalAsync(runId, "Cancelled");

        // The reply arrives after the cancel: its step must not be stored, and no discovery may follow. Watch until
        // a second after the reply was sent.
        var call = Assert.Single(await app.WaitForCallsAsync(1, ExecutorPlatform.RunTimeout));
        var replied = call.ReceivedAt + TimeSpan.FromMilliseconds(1500);
        await Eventually.WaitAsync(() => Task.FromResult(DateTime.UtcNow), t => t > replied + TimeSpan.FromSeconds(1), ExecutorPlatform.RunTimeout, "a second after the reply");
        Assert.Empty(await fixture.StepsAsync(runId));
        Assert.Single(app.Calls);
        Assert.Equal("Cancelled", ExecutorPlatform.Status(await fixture.GetRunAsync(runId)));
    }

    [Fact]
    public async Task BulkCancel_TimeRange_CancelsTheFunctionsRunsCreatedInRange()
    {
        await using var app = await SleeperAsync("bulk", null);
        await using var other = await SleeperAsync("bulk-other", null);
        var r1 = await StartSleepingAsync(app);
        var r2 = await StartSleepingAsync(app);
        var r3 = await StartSleepingAsync(app);
        var untouched = await StartSleepingAsync(other);
        var created = new Dictionary<string, DateTimeOffset>();
        foreach (var id in new[] { r1, r2, r3 })
        {
            created[id] = (await fixture.GetRunAsync(id)).GetProperty("createdAt").GetDateTimeOffset();
        }

        // [r1, r3): the first two.
        using var ranged = await fixture.Platform.Http.PostAsJsonAsync($"/api/v1/functions/{app.Slug}/cancel",
            new { from = created[r1].ToString("O"), to = created[r3].ToString("O") });
        var body = await ranged.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, ranged.StatusCode);
        Assert.Equal(2, body.GetProperty("cancelled").GetInt32());
        await fixture.WaitForFinalAsync(r1, "Cancelled");
        await fixture.WaitForFinalAsync(r2, "Cancelled");
        Assert.Equal("Sleeping", ExecutorPlatform.Status(await fixture.GetRunAsync(r3)));

        // No range: every unfinished run of the function, and only of that function.
        using var all = await fixture.Platform.Http.PostAsync($"/api/v1/functions/{app.Slug}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, all.StatusCode);
        Assert.Equal(1, (await all.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("cancelled").GetInt32());
        await fixture.WaitForFinalAsync(r3, "Cancelled");
        Assert.Equal("Sleeping", ExecutorPlatform.Status(await fixture.GetRunAsync(untouched)));
        Assert.Equal(1, CallsOf(app, r3));

        using var missing = await fixture.Platform.Http.PostAsJsonAsync("/api/v1/functions/no-such-fn/cancel", new { });
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var backwards = await fixture.Platform.Http.PostAsJsonAsync($"/api/v1/functions/{app.Slug}/cancel",
            new { from = "2026-11-28T10:00:00Z", to = "2026-11-28T09:00:00Z" });
        Assert.Equal(HttpStatusCode.BadRequest, backwards.StatusCode);
        output.WriteLine($"bulk cancel: [r1, r3) cancelled 2, then {{}} cancelled 1; {other.Slug} untouched");
    }

    [Fact]
    public async Task Sync_InvalidCancelConfig_IsRejected()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            FakeApp.RegisterAsync(fixture.Platform, "cancel-bad", retries: 0, _ => AppReply.Complete("1"),
                (_, f) => f["cancel"] = new JsonArray(new JsonObject { ["event"] = "x/y", ["if"] = "event.data.a ==" })));

        Assert.Contains("cancel[0].if", error.Message, StringComparison.Ordinal);
    }
}
