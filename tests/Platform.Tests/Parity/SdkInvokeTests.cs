using System.Text.Json;
using Platform.Tests.EndToEnd;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Parity;

/// <summary>
/// <c>step.invoke</c> with the real SDK: the <c>invoker</c> function invokes <c>invokee</c> (whose own trigger is
/// never sent) and returns what the step resolved to: the result, the error, the timeout, or an unknown function.
/// </summary>
[Collection(ParitySdkCollection.Name)]
public sealed class SdkInvokeTests(ParitySdkFixture fixture, ITestOutputHelper output)
{
    private static readonly string s_call = AppOp.Id("call-invokee");

    /// <summary>The run of invokee started by the invoker run's step.</summary>
    private Task<string> InvokedRunAsync(string invokerRunId) =>
        Eventually.WaitAsync(
            () => fixture.Platform.ScalarAsync<string>("""
                SELECT r.id FROM platform.runs r JOIN platform.events e ON e.id = r.event_id
                 WHERE e.name = 'inngest/function.invoked' AND e.data->'_inngest'->>'correlation_id' = @c
                """, ("c", $"{invokerRunId}.{s_call}")),
            id => id is not null,
            PlatformHttp.RunTimeout,
            $"the run invoked by {invokerRunId}")!;

    [Fact]
    public async Task Invoke_InvokeeCompletes_InvokerGetsItsResult()
    {
        var runId = await fixture.StartAsync("invoker", "test/invoker", new { n = 21 });
        var run = await fixture.FinalAsync(runId);

        Assert.Equal("Completed", ParitySdkFixture.Status(run));
        JsonAssert.Equal("""{"result":{"doubled":42,"trigger":"inngest/function.invoked"}}""", run.GetProperty("output"));
        var childId = await InvokedRunAsync(runId);
        var child = await fixture.FinalAsync(childId);
        Assert.Equal("Completed", ParitySdkFixture.Status(child));
        Assert.Equal(["double"], fixture.Executed("invokee", childId));
        var step = Assert.Single(run.GetProperty("steps").EnumerateArray());
        Assert.Equal(("call-invokee", "InvokeFunction"), (step.GetProperty("name").GetString(), step.GetProperty("op").GetString()));
    }

    [Fact]
    public async Task Invoke_InvokeeFails_InvokerCatchesItsError()
    {
        var runId = await fixture.StartAsync("invoker", "test/invoker", new { n = 1, fail = true });
        var run = await fixture.FinalAsync(runId);

        Assert.Equal("Completed", ParitySdkFixture.Status(run));
        var error = run.GetProperty("output").GetProperty("error");
        Assert.Equal("invokee failed on purpose", error.GetProperty("message").GetString());
        var childId = await InvokedRunAsync(runId);
        var child = await fixture.FinalAsync(childId);
        Assert.Equal("Failed", ParitySdkFixture.Status(child));
        output.WriteLine($"invokee failed with {child.GetProperty("error").GetProperty("name")}; the invoker caught {error.GetProperty("name")}");
        Assert.Equal(child.GetProperty("error").GetProperty("name").GetString(), error.GetProperty("name").GetString());
        Assert.Equal(["double"], fixture.Executed("invokee", childId));
    }

    [Fact]
    public async Task Invoke_InvokeeOutlivesTheTimeout_InvokerGetsTheTimeoutErrorAndKeepsIt()
    {
        var runId = await fixture.StartAsync("invoker", "test/invoker", new { n = 2, sleep = "3s", timeout = "1s" });
        var run = await fixture.FinalAsync(runId);

        Assert.Equal("Completed", ParitySdkFixture.Status(run));
        JsonAssert.Equal(
            """{"error":{"name":"InngestInvokeTimeoutError","message":"Timed out waiting for invoked function to complete"}}""",
            run.GetProperty("output"));

        // The invokee goes on and completes later; the invoker's step keeps the timeout.
        var childId = await InvokedRunAsync(runId);
        var child = await fixture.FinalAsync(childId);
        Assert.Equal("Completed", ParitySdkFixture.Status(child));
        Assert.True(child.GetProperty("endedAt").GetDateTimeOffset() > run.GetProperty("endedAt").GetDateTimeOffset());
        Assert.Equal(["double"], fixture.Executed("invokee", childId));
        var after = await PlatformHttp.GetJsonAsync(fixture.Http, $"/api/v1/runs/{runId}");
        JsonAssert.Equal(run.GetProperty("output").GetRawText(), after.GetProperty("output"));
        Assert.Equal(run.GetProperty("endedAt").GetDateTimeOffset(), after.GetProperty("endedAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task Invoke_UnknownFunction_InvokerGetsCouldNotFindFunction()
    {
        var runId = await fixture.StartAsync("invoker", "test/invoker", new { unknown = true });
        var run = await fixture.FinalAsync(runId);

        Assert.Equal("Completed", ParitySdkFixture.Status(run));
        JsonAssert.Equal(
            $$$"""{"error":{"name":"Error","message":"could not find function with ID: {{{ParitySdkFixture.Prefix}}}no-such-function"}}""",
            run.GetProperty("output"));
    }
}
