using System.Text.Json;
using Platform.Tests.EndToEnd;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Parity;

/// <summary>
/// <c>cancelOn</c> with the real SDK: <c>cancellable</c> sleeps between two steps and is cancelled by
/// <c>test/cancellable.cancel</c> with the same <c>data.id</c> (the SDK sends <c>if: "event.data.id == async.data.id"</c>).
/// </summary>
[Collection(ParitySdkCollection.Name)]
public sealed class SdkCancelTests(ParitySdkFixture fixture)
{
    [Fact]
    public async Task Sync_CancelOn_IsRegisteredAsTheSdkSendsIt()
    {
        var function = await PlatformHttp.GetJsonAsync(fixture.Http, $"/api/v1/functions/{ParitySdkFixture.Prefix}cancellable");

        var config = function.GetProperty("config");
        JsonAssert.Equal("""[{"event":"test/cancellable.cancel","timeout":"1m","if":"event.data.id == async.data.id"}]""", config.GetProperty("cancel"));
    }

    [Fact]
    public async Task CancelOn_MatchingEventDuringTheSleep_RunCancelledAndTheStepAfterItNeverRuns()
    {
        var id = Guid.NewGuid().ToString("N");
        var runId = await fixture.StartAsync("cancellable", "test/cancellable", new { id, sleep = "3s" });
        var sleeping = await PlatformHttp.WaitRunAsync(fixture.Http, runId, r => ParitySdkFixture.Status(r) == "Sleeping", "to sleep");
        var wakeAt = sleeping.GetProperty("nextWakeAt").GetDateTimeOffset();

        await PlatformHttp.SendEventAsync(fixture.Http, "test/cancellable.cancel", new { id = "someone-else" }, $"cancel-other-{id}");
        await PlatformHttp.SendEventAsync(fixture.Http, "test/cancellable.cancel", new { id }, $"cancel-{id}");
        var run = await fixture.FinalAsync(runId);
        Assert.Equal("Cancelled", ParitySdkFixture.Status(run));

        // Past the wake time the run is still cancelled and "after" never ran.
        await Eventually.WaitAsync(() => Task.FromResult(DateTimeOffset.UtcNow), t => t > wakeAt + TimeSpan.FromSeconds(1), PlatformHttp.RunTimeout, "the sleep's wake time to pass");
        var after = await PlatformHttp.GetJsonAsync(fixture.Http, $"/api/v1/runs/{runId}");
        Assert.Equal("Cancelled", ParitySdkFixture.Status(after));
        Assert.Equal(JsonValueKind.Null, after.GetProperty("output").ValueKind);
        Assert.Equal(["before"], fixture.Executed("cancellable", runId));
    }

    [Fact]
    public async Task CancelOn_EventForAnotherId_RunCompletes()
    {
        var id = Guid.NewGuid().ToString("N");
        var runId = await fixture.StartAsync("cancellable", "test/cancellable", new { id, sleep = "1s" });
        await PlatformHttp.WaitRunAsync(fixture.Http, runId, r => ParitySdkFixture.Status(r) == "Sleeping", "to sleep");

        await PlatformHttp.SendEventAsync(fixture.Http, "test/cancellable.cancel", new { id = $"not-{id}" }, $"cancel-not-{id}");
        var run = await fixture.FinalAsync(runId);

        Assert.Equal("Completed", ParitySdkFixture.Status(run));
        JsonAssert.Equal("""{"finished":true}""", run.GetProperty("output"));
        Assert.Equal(["before", "after"], fixture.Executed("cancellable", runId));
    }
}
