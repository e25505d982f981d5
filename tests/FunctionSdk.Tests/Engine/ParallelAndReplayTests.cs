using System.Text.Json;
using FunctionSdk.Execution;
using FunctionSdk.Protocol;
using FunctionSdk.Tests.Infrastructure;

namespace FunctionSdk.Tests.Engine;

/// <summary>Parallel steps, repeated ids, and replays that must come out the same every time.</summary>
public sealed class ParallelAndReplayTests
{
    private static readonly Func<FunctionContext<JsonElement>, CancellationToken, Task<object?>> s_fanOut = async (ctx, _) =>
    {
        var parts = await Task.WhenAll(
            ctx.Step.RunAsync("p1", _ => Task.FromResult(1)),
            ctx.Step.RunAsync("p2", _ => Task.FromResult(2)),
            ctx.Step.RunAsync("p3", _ => Task.FromResult(3)));
        var sum = await ctx.Step.RunAsync("sum", _ => Task.FromResult(parts.Sum()));
        return new { sum };
    };

    [Fact]
    public async Task WhenAll_ThreeNewSteps_PlansAllInOneReply()
    {
        var result = await EngineHarness.RunAsync(s_fanOut, CallBuilder.For());

        var ops = Assert.IsType<OpsReturned>(result).Ops;
        Assert.Equal(["p1", "p2", "p3"], ops.Select(o => o.DisplayName));
        Assert.All(ops, o => Assert.Equal(Op.StepPlanned, o.Code));
        Assert.All(ops, o => Assert.Null(o.Data));
        Assert.Equal(StepIds.Hash("p2"), ops[1].Id);
    }

    [Fact]
    public async Task WhenAll_StepCallForOne_RunsOnlyThatStep()
    {
        var ran = new List<string>();
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await Task.WhenAll(
                ctx.Step.RunAsync("p1", _ => { ran.Add("p1"); return Task.FromResult(1); }),
                ctx.Step.RunAsync("p2", _ => { ran.Add("p2"); return Task.FromResult(2); }),
                ctx.Step.RunAsync("p3", _ => { ran.Add("p3"); return Task.FromResult(3); }));
            return null;
        }, CallBuilder.For().DisableImmediateExecution().Requesting("p2"));

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal((Op.StepRun, "2"), (op.Code, op.Data!.ToJsonString()));
        Assert.Equal(["p2"], ran);
    }

    [Fact]
    public async Task WhenAll_AllStoredInAnyOrder_PlansNextStepWhileImmediateExecutionIsDisabled()
    {
        var call = CallBuilder.For().Stored("p3", 3).Stored("p1", 1).Stored("p2", 2).DisableImmediateExecution();

        var op = Assert.Single(Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(s_fanOut, call)).Ops);

        Assert.Equal((Op.StepPlanned, "sum"), (op.Code, op.Name));
    }

    [Fact]
    public async Task WhenAll_AllStored_RunsNextStepThenCompletes()
    {
        var ran = Assert.Single(Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(
            s_fanOut, CallBuilder.For().Stored("p3", 3).Stored("p1", 1).Stored("p2", 2))).Ops);
        Assert.Equal((Op.StepRun, "6"), (ran.Code, ran.Data!.ToJsonString()));

        var done = await EngineHarness.RunAsync(s_fanOut, CallBuilder.For().Stored("p3", 3).Stored("p1", 1).Stored("p2", 2).Stored("sum", 6));
        Assert.Equal("""{"sum":6}""", Assert.IsType<FunctionReturned>(done).Output!.ToJsonString());
    }

    [Fact]
    public async Task WhenAll_OneStoredOneNew_RunsTheNewOneImmediately()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await Task.WhenAll(ctx.Step.RunAsync("p1", _ => Task.FromResult(1)), ctx.Step.RunAsync("p2", _ => Task.FromResult(2)));
            return null;
        }, CallBuilder.For().Stored("p1", 1));

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal((Op.StepRun, "p2"), (op.Code, op.Name));
    }

    [Fact]
    public async Task WhenAll_StepAndSleep_ReportsBothWithoutRunningTheStep()
    {
        var ran = 0;
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await Task.WhenAll(
                ctx.Step.RunAsync("work", _ => Task.FromResult(++ran)),
                ctx.Step.SleepAsync("pause", TimeSpan.FromMinutes(1)));
            return null;
        }, CallBuilder.For());

        Assert.Equal([Op.StepPlanned, Op.Sleep], Assert.IsType<OpsReturned>(result).Ops.Select(o => o.Code));
        Assert.Equal(0, ran);
    }

    [Fact]
    public async Task DisableImmediateExecution_SingleNewStep_IsPlannedNotRun()
    {
        var result = await EngineHarness.RunAsync(
            async (ctx, _) => await ctx.Step.RunAsync("a", _ => Task.FromResult("A")),
            CallBuilder.For().DisableImmediateExecution());

        Assert.Equal(Op.StepPlanned, Assert.Single(Assert.IsType<OpsReturned>(result).Ops).Code);
    }

    [Fact]
    public async Task RepeatedId_InLoop_NumberedLikeJsSdk()
    {
        Func<FunctionContext<JsonElement>, CancellationToken, Task<object?>> loop = async (ctx, _) =>
        {
            var items = new List<int>();
            for (var i = 0; i < 3; i++)
            {
                var value = i;
                items.Add(await ctx.Step.RunAsync("item", _ => Task.FromResult(value)));
            }

            return items;
        };

        var third = Assert.Single(Assert.IsType<OpsReturned>(
            await EngineHarness.RunAsync(loop, CallBuilder.For().Stored("item", 0).Stored("item:1", 1))).Ops);
        Assert.Equal(("a9a4b86963ddfe833f1f97110c8a7a34f394a9ec", "item", 2), (third.Id, third.Name, third.UserlandIndex));

        var done = await EngineHarness.RunAsync(loop, CallBuilder.For().Stored("item", 0).Stored("item:1", 1).Stored("item:2", 2));
        Assert.Equal("[0,1,2]", Assert.IsType<FunctionReturned>(done).Output!.ToJsonString());
    }

    [Fact]
    public async Task RepeatedIdAcrossParallelChains_NumberedInStoredCompletionOrder()
    {
        // Two chains each reach a step called "item" after a stored step; which chain gets "item" and which
        // "item:1" must follow the order in which a and b completed (the stack), on every replay.
        Func<FunctionContext<JsonElement>, CancellationToken, Task<object?>> chains = async (ctx, _) =>
        {
            async Task ChainA()
            {
                await ctx.Step.RunAsync("a", _ => Task.FromResult("A"));
                await ctx.Step.RunAsync("item", _ => Task.FromResult("from A"));
            }

            async Task ChainB()
            {
                await ctx.Step.RunAsync("b", _ => Task.FromResult("B"));
                await ctx.Step.SleepAsync("item", TimeSpan.FromSeconds(5));
            }

            await Task.WhenAll(ChainA(), ChainB());
            return null;
        };

        for (var i = 0; i < 20; i++)
        {
            var aFirst = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(
                chains, CallBuilder.For().Stored("a", "A").Stored("b", "B").Stack("a", "b"))).Ops;
            Assert.Equal([(Op.StepPlanned, StepIds.Hash("item")), (Op.Sleep, StepIds.Hash("item:1"))], aFirst.Select(o => (o.Code, o.Id)));

            var bFirst = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(
                chains, CallBuilder.For().Stored("a", "A").Stored("b", "B").Stack("b", "a"))).Ops;
            Assert.Equal([(Op.Sleep, StepIds.Hash("item")), (Op.StepPlanned, StepIds.Hash("item:1"))], bFirst.Select(o => (o.Code, o.Id)));
        }
    }

    [Fact]
    public async Task Replay_SameRequest_SameReplyEveryTime()
    {
        var call = CallBuilder.For().Stored("p2", 2).Stored("p1", 1).DisableImmediateExecution();
        var first = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(s_fanOut, call)).Ops;

        for (var i = 0; i < 10; i++)
        {
            var again = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(s_fanOut, call)).Ops;
            Assert.Equal(first.Select(o => (o.Code, o.Id, o.Name)), again.Select(o => (o.Code, o.Id, o.Name)));
        }

        Assert.Equal(["p3"], first.Select(o => o.Name));
    }

    [Fact]
    public async Task CodeOutsideSteps_AwaitingOtherAsyncWork_StillReachesTheNextStep()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await ctx.Step.RunAsync("a", _ => Task.FromResult(1));
            await Task.Yield();
            await Task.Delay(10);
            var b = await ctx.Step.RunAsync("b", _ => Task.FromResult(2));
            return b;
        }, CallBuilder.For().Stored("a", 1));

        Assert.Equal("b", Assert.Single(Assert.IsType<OpsReturned>(result).Ops).Name);
    }

    [Fact]
    public async Task Logger_WhileReplayingStoredSteps_StaysSilent()
    {
        var logger = new ListLogger();
        Func<FunctionContext<JsonElement>, CancellationToken, Task<object?>> function = async (ctx, _) =>
        {
            ctx.Logger.LogStart();
            await ctx.Step.RunAsync("a", _ => Task.FromResult(1));
            ctx.Logger.LogAfterA();
            await ctx.Step.RunAsync("b", _ => Task.FromResult(2));
            return null;
        };

        await EngineHarness.RunAsync(function, CallBuilder.For(), logger: logger);
        Assert.Equal(["start"], logger.Messages);

        logger.Messages.Clear();
        await EngineHarness.RunAsync(function, CallBuilder.For().Stored("a", 1), logger: logger);
        Assert.Equal(["after a"], logger.Messages);
    }
}

internal static partial class ReplayLogMessages
{
    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "start")]
    public static partial void LogStart(this Microsoft.Extensions.Logging.ILogger logger);

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "after a")]
    public static partial void LogAfterA(this Microsoft.Extensions.Logging.ILogger logger);
}
