using System.Text.Json;
using FunctionSdk.Execution;
using FunctionSdk.Tests.Infrastructure;

namespace FunctionSdk.Tests.Engine;

/// <summary>Step errors, retries and function-level failures (protocol.md §14).</summary>
public sealed class ErrorTests
{
    private static Func<FunctionContext<JsonElement>, CancellationToken, Task<object?>> Throwing(Func<Exception> error) =>
        async (ctx, _) =>
        {
            await ctx.Step.RunAsync<string>("flaky", _ => throw error());
            return "unreachable";
        };

    [Fact]
    public async Task StepThrows_AttemptsLeft_StepErrorRetriable()
    {
        var result = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(Throwing(() => new InvalidOperationException("boom")), CallBuilder.For()));

        var op = Assert.Single(result.Ops);
        Assert.Equal(Op.StepError, op.Code);
        Assert.False(result.NoRetry);
        Assert.Null(result.RetryAfter);
        Assert.Equal("InvalidOperationException", op.Error!["name"]!.ToString());
        Assert.Equal("boom", op.Error["message"]!.ToString());
        Assert.True(op.Error["__serialized"]!.GetValue<bool>());
        Assert.StartsWith("InvalidOperationException: boom", op.Error["stack"]!.ToString(), StringComparison.Ordinal);
        Assert.Null(op.Data);
    }

    [Fact]
    public async Task StepThrows_FinalAttempt_StepFailedNoRetry()
    {
        var result = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(
            Throwing(() => new Exception("boom")), CallBuilder.For().Attempt(3, maxAttempts: 4)));

        var op = Assert.Single(result.Ops);
        Assert.Equal(Op.StepFailed, op.Code);
        Assert.True(result.NoRetry);
        Assert.Equal("Error", op.Error!["name"]!.ToString());
        Assert.Equal("""{"__serialized":true,"name":"Error","message":"boom","stack":""}""", op.Data!.ToJsonString());
    }

    [Fact]
    public async Task StepThrows_NotFinalAttempt_StillStepError()
    {
        var result = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(
            Throwing(() => new Exception("boom")), CallBuilder.For().Attempt(2, maxAttempts: 4)));

        Assert.Equal(Op.StepError, Assert.Single(result.Ops).Code);
    }

    [Fact]
    public async Task StepThrowsNonRetriable_FirstAttempt_StepFailedAtOnce()
    {
        var result = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(
            Throwing(() => new NonRetriableException("card declined")), CallBuilder.For()));

        var op = Assert.Single(result.Ops);
        Assert.Equal((Op.StepFailed, "NonRetriableError"), (op.Code, op.Error!["name"]!.ToString()));
        Assert.True(result.NoRetry);
    }

    [Fact]
    public async Task StepThrowsRetryAfterDelay_RetryAfterInWholeSeconds()
    {
        var result = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(
            Throwing(() => new RetryAfterException("slow down", TimeSpan.FromSeconds(29.2))), CallBuilder.For()));

        Assert.Equal((Op.StepError, "RetryAfterError"), (result.Ops[0].Code, result.Ops[0].Error!["name"]!.ToString()));
        Assert.Equal("30", result.RetryAfter);
        Assert.False(result.NoRetry);
    }

    [Fact]
    public async Task StepThrowsRetryAfterTime_RetryAfterIsIsoTimestamp()
    {
        var at = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var result = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(
            Throwing(() => new RetryAfterException("later", at)), CallBuilder.For()));

        Assert.Equal("2030-01-02T03:04:05.000Z", result.RetryAfter);
    }

    [Fact]
    public async Task StepThrowsWithInnerException_CauseSerialized()
    {
        var result = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(
            Throwing(() => new InvalidOperationException("outer", new TimeoutException("inner"))), CallBuilder.For()));

        var cause = result.Ops[0].Error!["cause"]!;
        Assert.Equal(("TimeoutException", "inner"), (cause["name"]!.ToString(), cause["message"]!.ToString()));
    }

    [Fact]
    public async Task StoredStepError_Caught_FunctionContinues()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            try
            {
                await ctx.Step.RunAsync("charge", _ => Task.FromResult("never"));
                return "charged";
            }
            catch (StepFailedException e)
            {
                return await ctx.Step.RunAsync("refund", _ => Task.FromResult($"refunded after {e.ErrorName}: {e.Message}"));
            }
        }, CallBuilder.For().StoredError("charge", "CustomError", "card declined"));

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal(("refund", "\"refunded after CustomError: card declined\""), (op.Name, op.Data!.ToJsonString()));
    }

    [Fact]
    public async Task StoredStepError_Uncaught_FunctionFailsForGoodWithOriginalError()
    {
        var result = Assert.IsType<FunctionFailed>(await EngineHarness.RunAsync(
            async (ctx, _) => await ctx.Step.RunAsync("charge", _ => Task.FromResult("never")),
            CallBuilder.For().StoredError("charge", "CustomError", "card declined")));

        Assert.True(result.Final);
        Assert.Equal("""{"name":"CustomError","message":"card declined","stack":"","__serialized":true}""", result.Error.ToJsonString());
    }

    [Fact]
    public async Task FunctionThrows_AttemptsLeft_Retriable()
    {
        var result = Assert.IsType<FunctionFailed>(await EngineHarness.RunAsync(
            (_, _) => throw new Exception("function level failure"), CallBuilder.For()));

        Assert.False(result.Final);
        Assert.Equal("Error", result.Error["name"]!.ToString());
    }

    [Fact]
    public async Task FunctionThrowsAfterAwait_FinalAttempt_Final()
    {
        var result = Assert.IsType<FunctionFailed>(await EngineHarness.RunAsync(async (_, _) =>
        {
            await Task.Yield();
            throw new Exception("function level failure");
        }, CallBuilder.For().Attempt(3, maxAttempts: 4)));

        Assert.True(result.Final);
    }

    [Fact]
    public async Task FunctionThrowsNonRetriable_Final()
    {
        var result = Assert.IsType<FunctionFailed>(await EngineHarness.RunAsync(
            (_, _) => throw new NonRetriableException("bad input"), CallBuilder.For()));

        Assert.True(result.Final);
        Assert.Equal("NonRetriableError", result.Error["name"]!.ToString());
    }

    [Fact]
    public async Task FunctionThrowsRetryAfter_CarriesRetryAfter()
    {
        var result = Assert.IsType<FunctionFailed>(await EngineHarness.RunAsync(
            (_, _) => throw new RetryAfterException("busy", TimeSpan.FromMinutes(2)), CallBuilder.For()));

        Assert.Equal((false, "120"), (result.Final, result.RetryAfter));
    }

    [Fact]
    public async Task EventNotInTriggers_FailsForGoodLikeJsSdk()
    {
        var result = Assert.IsType<FunctionFailed>(await EngineHarness.RunAsync(
            (_, _) => Task.FromResult<object?>("ran"),
            CallBuilder.For("other/event"),
            configure: o => o.OnEvent("test/exact")));

        Assert.True(result.Final);
        Assert.Equal(("EventValidationError", "Event not found in triggers: other/event"), (result.Error["name"]!.ToString(), result.Error["message"]!.ToString()));
    }

    [Theory]
    [InlineData("inngest/function.invoked")]
    [InlineData("inngest/scheduled.timer")]
    [InlineData("test/prefix.anything")]
    public async Task EventAdmittedByTriggers_Runs(string eventName)
    {
        var result = await EngineHarness.RunAsync(
            (_, _) => Task.FromResult<object?>("ran"),
            CallBuilder.For(eventName),
            configure: o => o.OnEvent("test/prefix.*").OnCron("0 9 * * *"));

        Assert.IsType<FunctionReturned>(result);
    }

    [Fact]
    public async Task NestedStepInsideStepBody_StepErrorExplainsIt()
    {
        var result = Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(async (ctx, _) =>
            await ctx.Step.RunAsync("outer", async _ => await ctx.Step.RunAsync("inner", _ => Task.FromResult(1))),
            CallBuilder.For()));

        var op = Assert.Single(result.Ops);
        Assert.Equal(("outer", Op.StepError), (op.Name, op.Code));
        Assert.Contains("cannot be nested", op.Error!["message"]!.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestedStepNeverReached_StepNotFoundAfterTimeout()
    {
        var result = Assert.IsType<StepNotFound>(await EngineHarness.RunAsync(
            async (ctx, _) => await ctx.Step.RunAsync("a", _ => Task.FromResult(1)),
            CallBuilder.For().Requesting("renamed"),
            stepNotFoundTimeout: TimeSpan.FromMilliseconds(50)));

        Assert.Contains("Could not find step", result.Body["error"]!.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, result.Body["totalFoundSteps"]!.GetValue<int>());
    }

    [Fact]
    public async Task UseApi_RefusedForGood()
    {
        var result = Assert.IsType<FunctionFailed>(await EngineHarness.RunAsync(
            (_, _) => Task.FromResult<object?>("ran"), CallBuilder.For().UseApi()));

        Assert.True(result.Final);
        Assert.Contains("use_api", result.Error["message"]!.ToString(), StringComparison.Ordinal);
    }
}
