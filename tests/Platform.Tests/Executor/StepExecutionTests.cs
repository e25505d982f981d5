using System.Text.Json;
using Xunit.Abstractions;

namespace Platform.Tests.Executor;

/// <summary>The happy paths of the call loop: a chain of steps, parallel steps, and checkpointing's RunComplete.</summary>
[Collection(ExecutorCollection.Name)]
public sealed class StepExecutionTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task StepRun_ChainOfThreeSteps_CompletesAndReplaysEarlierOutputsInOrder()
    {
        string[] ids = [AppOp.Id("a"), AppOp.Id("b"), AppOp.Id("c")];
        // a = 1, b = a + 10, c = b * 2, then return c: each reply is computed from the memoized outputs it was sent.
        await using var app = await FakeApp.StartAsync(fixture.Platform, "chain", retries: 3, call =>
        {
            int data(string id) => call.Steps[id].GetProperty("data").GetInt32();
            return call.Steps.Count switch
            {
                0 => AppReply.Ops(AppOp.StepRun("a", "1")),
                1 => AppReply.Ops(AppOp.StepRun("b", $"{data(ids[0]) + 10}")),
                2 => AppReply.Ops(AppOp.StepRun("c", $"{data(ids[1]) * 2}")),
                _ => AppReply.Complete($"{{\"total\":{data(ids[2])}}}"),
            };
        });

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        Assert.Equal(22, run.GetProperty("output").GetProperty("total").GetInt32());
        var steps = await fixture.StepsAsync(runId);
        Assert.Equal(ids, steps.Select(s => s.StepId));
        Assert.All(steps, s => Assert.Equal(("StepRun", 1), (s.Op, s.Attempts)));
        JsonAssert.Equal("{\"data\":1}", steps[0].OutputJson);
        JsonAssert.Equal("{\"data\":11}", steps[1].OutputJson);
        JsonAssert.Equal("{\"data\":22}", steps[2].OutputJson);
        Assert.Empty(await fixture.AttemptsAsync(runId));

        var calls = await app.WaitForCallsAsync(4, ExecutorPlatform.RunTimeout);
        Assert.Equal(4, calls.Count);
        for (var k = 0; k < calls.Count; k++)
        {
            var call = calls[k];
            Assert.Equal(("step", app.Slug, runId, 0), (call.StepId, call.FnId, call.RunId, call.Attempt));
            // The k-th call carries exactly the k earlier outputs, in the order they completed.
            Assert.Equal(ids.Take(k), call.Stack);
            Assert.Equal(ids.Take(k).Order(StringComparer.Ordinal), call.Steps.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(new[] { 1, 11, 22 }.Take(k), call.Stack.Select(id => call.Steps[id].GetProperty("data").GetInt32()));
            Assert.Equal(app.EventName, call.Event.GetProperty("name").GetString());
        }

        Assert.Empty(app.ScriptErrors);
        output.WriteLine($"chain: {calls.Count} calls, {(calls[^1].ReceivedAt - calls[0].ReceivedAt).TotalMilliseconds:0} ms from first to last call");
    }

    [Fact]
    public async Task StepPlanned_ThreeParallelSteps_EachCalledOnceThenOneDiscoveryWithAllMemoized()
    {
        string[] names = ["p1", "p2", "p3"];
        var byId = names.ToDictionary(AppOp.Id);
        await using var app = await FakeApp.StartAsync(fixture.Platform, "parallel", retries: 3, call =>
        {
            if (!call.IsDiscovery)
            {
                var name = byId[call.StepId!];
                return AppReply.Ops(AppOp.StepRun(name, $"\"out-{name}\""));
            }

            return call.Steps.Count == 0
                ? AppReply.Ops([.. names.Select(AppOp.StepPlanned)])
                : AppReply.Complete(JsonSerializer.Serialize(names.Select(n => call.Steps[AppOp.Id(n)].GetProperty("data").GetString())));
        });

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("[\"out-p1\",\"out-p2\",\"out-p3\"]", run.GetProperty("output"));
        var steps = await fixture.StepsAsync(runId);
        Assert.Equal(byId.Keys.Order(StringComparer.Ordinal), steps.Select(s => s.StepId).Order(StringComparer.Ordinal));
        Assert.All(steps, s =>
        {
            Assert.Equal("StepRun", s.Op);
            JsonAssert.Equal($"{{\"data\":\"out-{byId[s.StepId]}\"}}", s.OutputJson);
        });

        var calls = await app.WaitForCallsAsync(5, ExecutorPlatform.RunTimeout);
        Assert.Equal(5, calls.Count);
        Assert.True(calls[0].IsDiscovery && !calls[0].DisableImmediateExecution && calls[0].Steps.Count == 0);

        var stepCalls = calls.Where(c => !c.IsDiscovery).ToList();
        Assert.Equal(byId.Keys.Order(StringComparer.Ordinal), stepCalls.Select(c => c.StepId!).Order(StringComparer.Ordinal));
        Assert.All(stepCalls, c => Assert.Equal((true, 0, 0), (c.DisableImmediateExecution, c.Attempt, c.Steps.Count)));

        var last = calls[^1];
        Assert.True(last.IsDiscovery, "the last call is a discovery");
        Assert.False(last.DisableImmediateExecution);
        Assert.Equal(byId.Keys.Order(StringComparer.Ordinal), last.Steps.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(byId.Keys.Order(StringComparer.Ordinal), last.Stack.Order(StringComparer.Ordinal));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task RunComplete_AfterBufferedStepRun_CompletesWithItsData()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "runcomplete", retries: 3, call => call.Steps.Count switch
        {
            0 => AppReply.Ops(AppOp.StepRun("a", "\"A\"")),
            // Checkpointing mode: the last step's output and the function's return value in one reply.
            _ => AppReply.Ops(AppOp.StepRun("b", "\"AB\""), AppOp.RunComplete("{\"b\":\"AB\"}")),
        });

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"b\":\"AB\"}", run.GetProperty("output"));
        var steps = await fixture.StepsAsync(runId);
        Assert.Equal([AppOp.Id("a"), AppOp.Id("b")], steps.Select(s => s.StepId));
        JsonAssert.Equal("{\"data\":\"A\"}", steps[0].OutputJson);
        JsonAssert.Equal("{\"data\":\"AB\"}", steps[1].OutputJson);
        var calls = await app.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout);
        Assert.Equal(2, calls.Count);
        Assert.Equal([AppOp.Id("a")], calls[1].Stack);
        Assert.Empty(await fixture.AttemptsAsync(runId));
        Assert.Empty(app.ScriptErrors);
    }
}
