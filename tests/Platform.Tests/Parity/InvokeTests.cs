using System.Net;
using System.Text.Json;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Parity;

/// <summary>
/// <c>step.invoke</c> against WireMock apps (protocol.md §15.3): the invoked run starts with an
/// <c>inngest/function.invoked</c> event whatever its triggers, and the invoking step resolves to its output, its
/// error, a timeout error, a cancellation error, or "could not find function".
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class InvokeTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    private static readonly string s_call = AppOp.Id("call-child");

    /// <summary>A parent that invokes <paramref name="target"/> once, then returns what the step resolved to.</summary>
    private Task<FakeApp> StartParentAsync(string target, string? timeout) =>
        FakeApp.StartAsync(fixture.Platform, "invoker", retries: 0, call =>
            call.Steps.TryGetValue(s_call, out var resolved)
                ? AppReply.Complete($"{{\"got\":{resolved.GetRawText()}}}")
                : AppReply.Ops(ParityOps.Invoke("call-child", target, "{\"x\":21}", timeout)));

    [Fact]
    public async Task Invoke_ChildCompletes_StepResolvesToItsOutputAndTheChildSawTheInvokedEvent()
    {
        await using var child = await FakeApp.StartAsync(fixture.Platform, "invokee", retries: 0, call =>
            AppReply.Complete($"{{\"doubled\":{call.Event.GetProperty("data").GetProperty("x").GetInt32() * 2}}}"));
        await using var parent = await StartParentAsync(child.Slug, "1m");

        var runId = await fixture.StartRunAsync(parent);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"got\":{\"data\":{\"doubled\":42}}}", run.GetProperty("output"));
        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal((s_call, "call-child", "InvokeFunction"), (step.StepId, step.Name, step.Op));
        Assert.Equal(2, (await parent.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout)).Count);

        // The child ran once, on the invoked event, although its only trigger is another event.
        var childCall = Assert.Single(child.Calls);
        var e = childCall.Event;
        Assert.Equal("inngest/function.invoked", e.GetProperty("name").GetString());
        Assert.Equal(21, e.GetProperty("data").GetProperty("x").GetInt32());
        var meta = e.GetProperty("data").GetProperty("_inngest");
        Assert.Equal(child.Slug, meta.GetProperty("fn_id").GetString());
        Assert.Equal($"{runId}.{s_call}", meta.GetProperty("correlation_id").GetString());
        Assert.Equal(parent.Slug, meta.GetProperty("source_fn_id").GetString());
        var expire = DateTimeOffset.FromUnixTimeMilliseconds(meta.GetProperty("expire").GetInt64());
        var started = run.GetProperty("startedAt").GetDateTimeOffset();
        Assert.InRange(expire - started, TimeSpan.FromSeconds(50), TimeSpan.FromSeconds(70));
        var childRun = await fixture.WaitForFinalAsync(childCall.RunId, "Completed");
        JsonAssert.Equal("{\"doubled\":42}", childRun.GetProperty("output"));
        Assert.Equal(0L, await fixture.WaitCountAsync(runId));
        Assert.Empty(parent.ScriptErrors);
        Assert.Empty(child.ScriptErrors);
    }

    [Fact]
    public async Task Invoke_ChildFails_StepResolvesToItsError()
    {
        await using var child = await FakeApp.StartAsync(fixture.Platform, "invokee-fails", retries: 0, _ =>
            AppReply.Error(400, AppOp.ErrorJson("ChildError", "the child gave up"), noRetry: true));
        await using var parent = await StartParentAsync(child.Slug, null);

        var runId = await fixture.StartRunAsync(parent);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        var error = run.GetProperty("output").GetProperty("got").GetProperty("error");
        Assert.Equal(("ChildError", "the child gave up"), (error.GetProperty("name").GetString(), error.GetProperty("message").GetString()));
        var step = Assert.Single(run.GetProperty("steps").EnumerateArray());
        Assert.Equal(("InvokeFunction", "Failed"), (step.GetProperty("op").GetString(), step.GetProperty("status").GetString()));
        Assert.Equal("ChildError", step.GetProperty("error").GetProperty("name").GetString());
        await fixture.WaitForFinalAsync(Assert.Single(child.Calls).RunId, "Failed");
        Assert.Empty(parent.ScriptErrors);
    }

    [Fact]
    public async Task Invoke_ChildOutlivesTheTimeout_TimeoutErrorAndTheChildsLaterEndChangesNothing()
    {
        await using var child = await FakeApp.StartAsync(fixture.Platform, "invokee-slow", retries: 0, _ =>
            AppReply.Ops(AppOp.Sleep("nap", "1m")));
        await using var parent = await StartParentAsync(child.Slug, "1s");

        var runId = await fixture.StartRunAsync(parent);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal(
            "{\"got\":{\"error\":{\"name\":\"InngestInvokeTimeoutError\",\"message\":\"Timed out waiting for invoked function to complete\"}}}",
            run.GetProperty("output"));
        var waited = run.GetProperty("endedAt").GetDateTimeOffset() - run.GetProperty("startedAt").GetDateTimeOffset();
        output.WriteLine($"invoke with timeout 1s: the parent ended {waited.TotalMilliseconds:0} ms after it started");
        Assert.True(waited >= TimeSpan.FromSeconds(1), $"timed out after {waited.TotalMilliseconds:0} ms");

        // The child ends later (cancelled): the step that timed out keeps its value and the parent is not called again.
        var childRunId = Assert.Single(child.Calls).RunId;
        await fixture.WaitForStatusAsync(childRunId, "Sleeping");
        using var cancel = await fixture.Platform.Http.PostAsync($"/api/v1/runs/{childRunId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal("InngestInvokeTimeoutError", step.ErrorName);
        Assert.Equal("Completed", ExecutorPlatform.Status(await fixture.GetRunAsync(runId)));
        Assert.Equal(2, parent.Calls.Count);
        Assert.Empty(parent.ScriptErrors);
    }

    [Fact]
    public async Task Invoke_ChildCancelled_StepResolvesToACancellationError()
    {
        await using var child = await FakeApp.StartAsync(fixture.Platform, "invokee-cancelled", retries: 0, _ =>
            AppReply.Ops(AppOp.Sleep("nap", "1m")));
        await using var parent = await StartParentAsync(child.Slug, null);

        var runId = await fixture.StartRunAsync(parent);
        var calls = await child.WaitForCallsAsync(1, ExecutorPlatform.RunTimeout);
        await fixture.WaitForStatusAsync(calls[0].RunId, "Sleeping");
        var waiting = await fixture.WaitForStatusAsync(runId, "Waiting");
        var pending = Assert.Single(waiting.GetProperty("steps").EnumerateArray());
        Assert.Equal(("call-child", "InvokeFunction", "Waiting"),
            (pending.GetProperty("name").GetString(), pending.GetProperty("op").GetString(), pending.GetProperty("status").GetString()));
        using var cancel = await fixture.Platform.Http.PostAsync($"/api/v1/runs/{calls[0].RunId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        var error = run.GetProperty("output").GetProperty("got").GetProperty("error");
        Assert.Equal("InngestInvokeCancelledError", error.GetProperty("name").GetString());
        Assert.Empty(parent.ScriptErrors);
    }

    [Fact]
    public async Task Invoke_UnknownFunction_StepResolvesToCouldNotFindFunction()
    {
        var missing = $"nope-{Guid.NewGuid():N}";
        await using var parent = await StartParentAsync(missing, null);

        var runId = await fixture.StartRunAsync(parent);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal($"{{\"got\":{{\"error\":{{\"name\":\"Error\",\"message\":\"could not find function with ID: {missing}\"}}}}}}", run.GetProperty("output"));
        Assert.Equal(0L, await fixture.Platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.events WHERE name = 'inngest/function.invoked' AND data->'_inngest'->>'fn_id' = @slug", ("slug", missing)));
        Assert.Empty(parent.ScriptErrors);
    }

    [Fact]
    public async Task Invoke_SameStepReportedAgainWhileWaiting_StartsOneChild()
    {
        // A parent whose app reports the invoke again on a second discovery (a replay while the child runs).
        await using var child = await FakeApp.StartAsync(fixture.Platform, "invokee-once", retries: 0, call =>
            call.Steps.ContainsKey(AppOp.Id("nap")) ? AppReply.Complete("\"done\"") : AppReply.Ops(AppOp.Sleep("nap", "1s")));
        await using var parent = await FakeApp.StartAsync(fixture.Platform, "invoker-twice", retries: 0, call =>
            call.Steps.TryGetValue(s_call, out var resolved)
                ? AppReply.Complete($"{{\"got\":{resolved.GetRawText()}}}")
                : call.Steps.ContainsKey(AppOp.Id("a"))
                    ? AppReply.Ops(ParityOps.Invoke("call-child", child.Slug, "{}", null))
                    : AppReply.Ops(ParityOps.Invoke("call-child", child.Slug, "{}", null), AppOp.StepRun("a", "1")));

        var runId = await fixture.StartRunAsync(parent);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"got\":{\"data\":\"done\"}}", run.GetProperty("output"));
        var invoked = await fixture.Platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.events WHERE name = 'inngest/function.invoked' AND data->'_inngest'->>'correlation_id' = @c",
            ("c", $"{runId}.{s_call}"));
        Assert.Equal(1L, invoked);
        Assert.Equal(2, (await child.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout)).Count);
        Assert.Empty(parent.ScriptErrors);
    }
}
