using System.Text.Json;
using FunctionSdk.Testing;

namespace FunctionSdk.Tests.Testing;

/// <summary>The test host sends <c>inngest/function.failed</c> as the platform does, which starts <c>{id}-failure</c>.</summary>
public sealed class DurableTestHostFailureTests
{
    [Fact]
    public async Task SendAsync_RunFailsForGood_StartsTheFailureHandlerWithTheErrorAndTheEvent()
    {
        var handled = new List<FailureContext<OrderPlaced>>();
        var builder = DurableTestHost.CreateBuilder();
        builder.AppId = "shop";
        builder.Functions.AddFunction<OrderPlaced>(
            "charge",
            async (ctx, _) =>
            {
                await ctx.Step.RunAsync<string>("charge-card", _ => throw new InvalidOperationException($"card declined for {ctx.Event.Data.OrderId}"));
                return null;
            },
            o =>
            {
                o.Retries = 1;
                o.OnFailure<OrderPlaced>(async (ctx, _) =>
                {
                    handled.Add(ctx);
                    await ctx.Step.RunAsync("notify", _ => Task.FromResult(ctx.Event.Data.OrderId));
                });
            });
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(new OrderPlaced("o-9", 10m)));

        Assert.Equal(TestRunStatus.Failed, run.Status);
        Assert.Equal(2, run.GetStep("charge-card").Attempts);
        var failure = Assert.Single(host.Runs, r => r.FunctionId == "charge-failure");
        Assert.Equal(TestRunStatus.Completed, failure.Status);
        Assert.Equal(["notify"], failure.Steps.Select(s => s.Id));
        Assert.Equal("inngest/function.failed", failure.Event.Name);
        Assert.Equal(run.Id, failure.Event.Id);
        var context = handled[^1];
        Assert.Equal(("InvalidOperationException", "card declined for o-9"), (context.Error.Name, context.Error.Message));
        Assert.Equal(("test/order.placed", "o-9"), (context.Event.Name, context.Event.Data.OrderId));
        Assert.Equal((run.Id, "shop-charge"), (context.FailedRunId, context.FunctionId));
    }

    [Fact]
    public async Task SendAsync_RunCompletesOrOtherFunctionFails_FailureHandlerDoesNotRun()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions
            .AddFunction<OrderPlaced>("fine", (_, _) => Task.FromResult<object?>("ok"), o => o.OnFailure<OrderPlaced>((_, _) => Task.CompletedTask))
            .AddFunction<OrderPlaced>("broken", (_, _) => throw new NonRetriableException("no"));
        await using var host = builder.Build();

        var runs = await host.SendAsync(new OrderPlaced("o-1", 1m));

        Assert.Equal([TestRunStatus.Failed, TestRunStatus.Completed], runs.OrderBy(r => r.FunctionId).Select(r => r.Status));
        Assert.DoesNotContain(host.Runs, r => r.FunctionId == "fine-failure");
        Assert.Single(host.Events, e => e.Name == "inngest/function.failed");
    }

    [Fact]
    public async Task SendAsync_FailureHandlerFails_IsRetriedOnceAndStartsNothingMore()
    {
        var calls = 0;
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<OrderPlaced>(
            "charge",
            (_, _) => throw new NonRetriableException("declined"),
            o => o.OnFailure<JsonElement>((_, _) =>
            {
                calls++;
                throw new InvalidOperationException("handler broken");
            }));
        await using var host = builder.Build();

        await host.SendAsync(new OrderPlaced("o-2", 1m));

        var failure = Assert.Single(host.Runs, r => r.FunctionId == "charge-failure");
        Assert.Equal(TestRunStatus.Failed, failure.Status);
        Assert.Equal(2, calls);
        Assert.Single(host.Events, e => e.Name == "inngest/function.failed");
        Assert.Equal(2, host.Runs.Count);
    }
}
