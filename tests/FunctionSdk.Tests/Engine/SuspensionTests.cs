using FunctionSdk.Execution;
using FunctionSdk.Tests.Infrastructure;

namespace FunctionSdk.Tests.Engine;

/// <summary>A step that is not stored suspends the function by leaving its task pending, never by throwing.</summary>
public sealed class SuspensionTests
{
    [Fact]
    public async Task PendingStep_CatchAllAroundIt_NeverSeesAnException()
    {
        var caught = new List<Exception>();
        var finallyRan = false;
        var after = false;

        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            try
            {
                await ctx.Step.RunAsync("a", _ => Task.FromResult(1));
                after = true;
            }
            catch (Exception e)
            {
                caught.Add(e);
            }
            finally
            {
                finallyRan = true;
            }

            return "end";
        }, CallBuilder.For().DisableImmediateExecution());

        Assert.Equal(Op.StepPlanned, Assert.Single(Assert.IsType<OpsReturned>(result).Ops).Code);
        Assert.Empty(caught);
        Assert.False(finallyRan);
        Assert.False(after);
    }

    [Fact]
    public async Task PendingStep_TaskStaysIncompleteAfterTheCall()
    {
        Task<int>? pending = null;
        await EngineHarness.RunAsync(async (ctx, _) =>
        {
            pending = ctx.Step.RunAsync("a", _ => Task.FromResult(1));
            return await pending;
        }, CallBuilder.For().DisableImmediateExecution());

        Assert.NotNull(pending);
        Assert.False(pending.IsCompleted);
    }

    [Fact]
    public async Task StepRunImmediately_FunctionIsNotResumedInTheSameCall()
    {
        var resumed = false;
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await ctx.Step.RunAsync("a", _ => Task.FromResult(1));
            resumed = true;
            return null;
        }, CallBuilder.For());

        Assert.Equal(Op.StepRun, Assert.Single(Assert.IsType<OpsReturned>(result).Ops).Code);
        Assert.False(resumed);
    }

    [Fact]
    public async Task StepsStartedFromAnotherThread_AreStillFound()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await Task.Run(() => ctx.Step.SleepAsync("background", TimeSpan.FromSeconds(3))).ConfigureAwait(false);
            return null;
        }, CallBuilder.For());

        Assert.Equal(("Sleep", "3s"), (Assert.Single(Assert.IsType<OpsReturned>(result).Ops).Code, Assert.Single(((OpsReturned)result).Ops).Name));
    }

    [Fact]
    public async Task FunctionWithoutSteps_ReturnsOutput()
    {
        var result = await EngineHarness.RunAsync((ctx, _) => Task.FromResult<object?>(new { hello = ctx.Run.RunId }), CallBuilder.For().Run("01HR"));

        Assert.Equal("""{"hello":"01HR"}""", Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
    }

    [Fact]
    public async Task FunctionReturningNull_OutputIsNull()
    {
        var result = await EngineHarness.RunAsync((_, _) => Task.FromResult<object?>(null), CallBuilder.For());

        Assert.Null(Assert.IsType<FunctionReturned>(result).Output);
    }

    [Fact]
    public async Task RunInfo_CarriesAttemptAndMaxAttempts()
    {
        var result = await EngineHarness.RunAsync(
            (ctx, _) => Task.FromResult<object?>(ctx.Run),
            CallBuilder.For().Run("01HRX").Attempt(2, maxAttempts: 5));

        Assert.Equal("""{"runId":"01HRX","functionId":"fn","attempt":2,"maxAttempts":5}""", Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
    }
}
