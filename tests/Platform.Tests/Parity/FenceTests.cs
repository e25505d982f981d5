using System.Net;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Parity;

/// <summary>
/// The fence of a commit's step, attempt and wait rows: a run cancelled while its step call is in flight must not
/// get that step's rows when the reply comes back. The cancel moves the version from V to V+1, which is also the
/// version the worker's own commit would have written.
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class FenceTests(ExecutorPlatform fixture)
{
    [Fact]
    public async Task Cancel_WhileAStepCallIsInFlight_TheReplyWritesNoRowsAndTheAppIsNotCalledAgain()
    {
        var started = new TaskCompletionSource();
        await using var app = await FakeApp.StartAsync(fixture.Platform, "fence", retries: 0, call =>
        {
            if (call.Steps.Count == 0)
            {
                started.TrySetResult();
                return AppReply.Ops(AppOp.StepRun("slow", "\"done\""), AppOp.WaitForEvent("later", "fence/never", "1m", null))
                    with { Delay = TimeSpan.FromMilliseconds(1500) };
            }

            return AppReply.Complete("\"finished\"");
        });

        var runId = await fixture.StartRunAsync(app);
        await started.Task.WaitAsync(ExecutorPlatform.RunTimeout);
        using var cancel = await fixture.Platform.Http.PostAsync($"/api/v1/runs/{runId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);

        // Watch until a second after the reply was sent.
        var call = Assert.Single(await app.WaitForCallsAsync(1, ExecutorPlatform.RunTimeout));
        var replied = call.ReceivedAt + TimeSpan.FromMilliseconds(1500);
        await Eventually.WaitAsync(() => Task.FromResult(DateTime.UtcNow), t => t > replied + TimeSpan.FromSeconds(1), ExecutorPlatform.RunTimeout, "a second after the reply");

        Assert.Empty(await fixture.StepsAsync(runId));
        Assert.Equal(0L, await fixture.WaitCountAsync(runId));
        Assert.Single(app.Calls);
        Assert.Equal("Cancelled", ExecutorPlatform.Status(await fixture.GetRunAsync(runId)));
    }
}
