using Platform.Tests.EndToEnd;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Parity;

/// <summary>
/// <c>onFailure</c> with the real SDK: the SDK registers the handler as <c>doomed-failure</c>, triggered by
/// <c>inngest/function.failed</c> with an expression on <c>function_id</c>; the platform sends that event when
/// <c>doomed</c> fails for good, and a failing handler does not start itself again.
/// </summary>
[Collection(ParitySdkCollection.Name)]
public sealed class SdkLifecycleTests(ParitySdkFixture fixture)
{
    /// <summary>The run of the failure handler started by the failure of <paramref name="failedRunId"/>.</summary>
    private Task<string> HandlerRunAsync(string failedRunId) =>
        Eventually.WaitAsync(
            () => fixture.Platform.ScalarAsync<string>("""
                SELECT r.id FROM platform.runs r
                  JOIN platform.functions f ON f.id = r.function_id
                  JOIN platform.events e ON e.id = r.event_id
                 WHERE f.slug = @slug AND e.name = 'inngest/function.failed' AND e.data->>'run_id' = @run
                """, ("slug", ParitySdkFixture.Prefix + "doomed-failure"), ("run", failedRunId)),
            id => id is not null,
            PlatformHttp.RunTimeout,
            $"the failure handler's run for {failedRunId}")!;

    [Fact]
    public async Task OnFailure_RunFailsForGood_HandlerRunsOnceWithTheErrorAndTheOriginalEvent()
    {
        var tag = Guid.NewGuid().ToString("N");
        var runId = await fixture.StartAsync("doomed", "test/doomed", new { tag });
        var run = await fixture.FinalAsync(runId);

        Assert.Equal("Failed", ParitySdkFixture.Status(run));
        Assert.Equal("doomed on attempt 1", run.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(["explode", "explode"], fixture.Executed("doomed", runId));

        var handlerId = await HandlerRunAsync(runId);
        var handler = await fixture.FinalAsync(handlerId);
        Assert.Equal("Completed", ParitySdkFixture.Status(handler));
        JsonAssert.Equal(
            $$$"""{"message":"doomed on attempt 1","originalEvent":"test/doomed","failedRunId":"{{{runId}}}","tag":"{{{tag}}}"}""",
            handler.GetProperty("output"));
        Assert.Equal(["report"], fixture.Executed("doomed-failure", handlerId));
        Assert.Equal(1L, await fixture.Platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.events WHERE name = 'inngest/function.failed' AND event_id = @id", ("id", runId)));
    }

    [Fact]
    public async Task OnFailure_HandlerFailsToo_ItIsNotStartedAgain()
    {
        var runId = await fixture.StartAsync("doomed", "test/doomed", new { failHandler = true });
        Assert.Equal("Failed", ParitySdkFixture.Status(await fixture.FinalAsync(runId)));

        var handlerId = await HandlerRunAsync(runId);
        var handler = await fixture.FinalAsync(handlerId);
        Assert.Equal("Failed", ParitySdkFixture.Status(handler));
        Assert.Equal("the failure handler failed too", handler.GetProperty("error").GetProperty("message").GetString());

        // Once the handler's end is processed, it has sent nothing that could start a handler again.
        await Eventually.WaitAsync(
            () => fixture.Platform.ScalarAsync<long>("SELECT count(*) FROM platform.run_outbox WHERE run_id = @id AND published_at IS NOT NULL", ("id", handlerId)),
            n => n == 1, PlatformHttp.RunTimeout, "the handler's end to be processed");
        Assert.Equal(0L, await fixture.Platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.events WHERE name LIKE 'inngest/function.%' AND data->>'run_id' = @id", ("id", handlerId)));
        Assert.Equal(1L, await fixture.Platform.ScalarAsync<long>("""
            SELECT count(*) FROM platform.runs r JOIN platform.events e ON e.id = r.event_id
             WHERE e.name = 'inngest/function.failed' AND e.data->'event'->'data'->>'failHandler' = 'true' AND e.data->>'run_id' = @id
            """, ("id", runId)));
        Assert.Equal(["report"], fixture.Executed("doomed-failure", handlerId));
    }
}
