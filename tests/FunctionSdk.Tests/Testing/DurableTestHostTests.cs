using System.Text.Json;
using FunctionSdk.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionSdk.Tests.Testing;

[EventName("test/order.placed")]
public sealed record OrderPlaced(string OrderId, decimal Amount);

[EventName("test/order.shipped")]
public sealed record OrderShipped(string OrderId, string Carrier);

[EventName("test/signal")]
public sealed record Signal(string Value);

/// <summary>The in-process test host: the platform's loop in memory, fake time, events, retries, invokes.</summary>
public sealed class DurableTestHostTests
{
    [Fact]
    public async Task SendAsync_FunctionWithSteps_CompletesWithOutputAndStepsInOrder()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<OrderPlaced>("total", async (ctx, _) =>
        {
            var net = await ctx.Step.RunAsync("net", _ => Task.FromResult(ctx.Event.Data.Amount));
            var gross = await ctx.Step.RunAsync("gross", _ => Task.FromResult(net * 1.2m));
            return new { ctx.Event.Data.OrderId, gross };
        });
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(new OrderPlaced("o-1", 100m)));

        Assert.Equal(TestRunStatus.Completed, run.Status);
        Assert.Equal("""{"orderId":"o-1","gross":120.0}""", run.Output!.Value.GetRawText());
        Assert.Equal(["net", "gross"], run.Steps.Select(s => s.Id));
        Assert.All(run.Steps, s => Assert.Equal(TestStepKind.Run, s.Kind));
        Assert.Equal(100m, run.GetStep("net").GetOutput<decimal>());
        Assert.Equal("test/order.placed", run.Event.Name);
        Assert.Same(run, await run.WaitForCompletionAsync());
    }

    [Fact]
    public async Task SleepAsync_Reached_SkipsAtOnceAndMovesTheClock()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<Signal>("sleeper", async (ctx, _) =>
        {
            await ctx.Step.SleepAsync("nap", TimeSpan.FromDays(3));
            await ctx.Step.SleepUntilAsync("until", new DateTimeOffset(2025, 2, 1, 9, 0, 0, TimeSpan.Zero));
            return await ctx.Step.RunAsync("after", _ => Task.FromResult(ctx.Services.GetRequiredService<TimeProvider>().GetUtcNow()));
        });
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(new Signal("go")));

        Assert.Equal(TestRunStatus.Completed, run.Status);
        Assert.Equal(new DateTimeOffset(2025, 2, 1, 9, 0, 0, TimeSpan.Zero), host.UtcNow);
        Assert.Equal(host.UtcNow, run.GetOutput<DateTimeOffset>());
        Assert.Equal([TestStepKind.Sleep, TestStepKind.Sleep, TestStepKind.Run], run.Steps.Select(s => s.Kind));
    }

    [Fact]
    public async Task AdvanceTimeAsync_SleepsNotSkipped_EndsTheSleepOnlyWhenItsTimeComes()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.SkipSleeps = false;
        builder.Functions.AddFunction<Signal>("sleeper", async (ctx, _) =>
        {
            await ctx.Step.SleepAsync("nap", TimeSpan.FromHours(2));
            return "rested";
        });
        await using var host = builder.Build();
        var run = Assert.Single(await host.SendAsync(new Signal("go")));
        Assert.Equal(TestRunStatus.Sleeping, run.Status);

        await host.AdvanceTimeAsync(TimeSpan.FromMinutes(119));
        Assert.Equal(TestRunStatus.Sleeping, run.Status);
        var blocked = await Assert.ThrowsAsync<InvalidOperationException>(() => run.WaitForCompletionAsync());
        Assert.Contains("step \"nap\" sleeps until", blocked.Message, StringComparison.Ordinal);

        await host.AdvanceTimeAsync(TimeSpan.FromMinutes(1));
        Assert.Equal("rested", run.GetOutput<string>());
    }

    [Fact]
    public async Task WaitForEventAsync_MatchingEventSent_ResumesWithThatEventOnly()
    {
        await using var host = BuildShippingHost();
        var run = Assert.Single(await host.SendAsync(new OrderPlaced("o-1", 10m)));
        Assert.Equal(TestRunStatus.Waiting, run.Status);

        var blocked = await Assert.ThrowsAsync<InvalidOperationException>(() => run.WaitForCompletionAsync());
        Assert.Contains("waits for event \"test/order.shipped\" matching `async.data.orderId == event.data.orderId`", blocked.Message, StringComparison.Ordinal);

        await host.SendAsync(new OrderShipped("o-other", "dhl"));
        Assert.Equal(TestRunStatus.Waiting, run.Status);

        await host.SendAsync(new OrderShipped("o-1", "ups"));
        Assert.Equal("ups", run.GetOutput<string>());
        var wait = run.GetStep("wait-shipped");
        Assert.Equal(TestStepKind.WaitForEvent, wait.Kind);
        Assert.Equal("test/order.shipped", wait.Output!.Value.GetProperty("name").GetString());
    }

    [Fact]
    public async Task WaitForEventAsync_EventSentBeforeTheWait_DoesNotCount()
    {
        await using var host = BuildShippingHost();
        await host.SendAsync(new OrderShipped("o-1", "ups"));

        var run = Assert.Single(await host.SendAsync(new OrderPlaced("o-1", 10m)));

        Assert.Equal(TestRunStatus.Waiting, run.Status);
    }

    [Fact]
    public async Task AdvanceTimeAsync_PastTheWaitTimeout_StepReturnsNull()
    {
        await using var host = BuildShippingHost();
        var run = Assert.Single(await host.SendAsync(new OrderPlaced("o-1", 10m)));

        await host.AdvanceTimeAsync(TimeSpan.FromDays(2) - TimeSpan.FromSeconds(1));
        Assert.Equal(TestRunStatus.Waiting, run.Status);
        await host.AdvanceTimeAsync(TimeSpan.FromSeconds(1));

        Assert.Equal("not shipped", run.GetOutput<string>());
        Assert.Null(run.GetStep("wait-shipped").Output);
    }

    [Fact]
    public async Task RunAsync_StepFailsOnce_RetriedWithTheSameIdempotencyKey()
    {
        var keys = new List<(string Key, int Attempt)>();
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<Signal>("flaky", async (ctx, _) =>
            await ctx.Step.RunAsync("call-api", (step, _) =>
            {
                keys.Add((step.IdempotencyKey, step.Attempt));
                return step.Attempt == 0 ? throw new HttpRequestException("503 from the API") : Task.FromResult("ok");
            }));
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(new Signal("go")));

        Assert.Equal("ok", run.GetOutput<string>());
        Assert.Equal(2, run.GetStep("call-api").Attempts);
        Assert.Equal([0, 1], keys.Select(k => k.Attempt));
        Assert.Single(keys.Select(k => k.Key).Distinct());
        Assert.StartsWith(run.Id + ":", keys[0].Key, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_StepFailsEveryAttempt_RetriesThenStepFailedExceptionIsCaught()
    {
        var attempts = 0;
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<Signal>("compensating", async (ctx, _) =>
        {
            try
            {
                await ctx.Step.RunAsync("reserve", _ =>
                {
                    attempts++;
                    return Task.FromException<int>(new InvalidOperationException("warehouse down"));
                });
                return "reserved";
            }
            catch (StepFailedException e)
            {
                await ctx.Step.RunAsync("refund", _ => Task.FromResult(e.Message));
                return "refunded";
            }
        }, o => o.Retries = 2);
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(new Signal("go")));

        Assert.Equal("refunded", run.GetOutput<string>());
        Assert.Equal(3, attempts);
        var reserve = run.GetStep("reserve");
        Assert.Equal(3, reserve.Attempts);
        Assert.Equal(new TestError("InvalidOperationException", "warehouse down"), reserve.Error);
        Assert.Equal("warehouse down", run.GetStep("refund").GetOutput<string>());
    }

    [Fact]
    public async Task RunAsync_NonRetriableUncaught_RunFailsAfterOneAttempt()
    {
        var attempts = 0;
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<Signal>("doomed", async (ctx, _) =>
            await ctx.Step.RunAsync("validate", _ =>
            {
                attempts++;
                return Task.FromException<int>(new NonRetriableException("card declined"));
            }));
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(new Signal("go")));

        Assert.Equal(TestRunStatus.Failed, run.Status);
        Assert.Equal(new TestError("NonRetriableError", "card declined"), run.Error);
        Assert.Equal(1, attempts);
        var noOutput = Assert.Throws<InvalidOperationException>(() => run.GetOutput<int>());
        Assert.Contains("failed with NonRetriableError: card declined", noOutput.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FunctionError_OutsideSteps_RetriedUpToTheRetryCountThenFails()
    {
        var calls = 0;
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<Signal>("broken", (_, _) =>
        {
            calls++;
            throw new InvalidOperationException("bug");
        }, o => o.Retries = 1);
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(new Signal("go")));

        Assert.Equal(TestRunStatus.Failed, run.Status);
        Assert.Equal("bug", run.Error!.Message);
        Assert.Equal(2, calls);
        Assert.Equal(2, run.CallCount);
    }

    [Fact]
    public async Task WhenAll_ParallelSteps_PlannedThenEachRunOnceAndJoined()
    {
        var ran = new List<string>();
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<Signal>("fan-out", async (ctx, _) =>
        {
            var parts = await Task.WhenAll(
                ctx.Step.RunAsync("a", _ => Ran("a", 1)),
                ctx.Step.RunAsync("b", _ => Ran("b", 2)),
                ctx.Step.RunAsync("c", _ => Ran("c", 3)));
            return await ctx.Step.RunAsync("sum", _ => Task.FromResult(parts.Sum()));
        });
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(new Signal("go")));

        Assert.Equal(6, run.GetOutput<int>());
        Assert.Equal(["a", "b", "c"], ran);
        Assert.Equal(["a", "b", "c", "sum"], run.Steps.Select(s => s.Id));
        // Discovery (3 planned), one call per planned step, then a discovery that runs "sum", then the return.
        Assert.Equal(6, run.CallCount);

        Task<int> Ran(string id, int value)
        {
            ran.Add(id);
            return Task.FromResult(value);
        }
    }

    [Fact]
    public async Task SendEventAsync_FromAStep_StartsTheTriggeredFunctionAndResumesWaits()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions
            .AddFunction<OrderPlaced>("announce", async (ctx, _) =>
            {
                var sent = await ctx.Step.SendEventAsync("ship-it", new OrderShipped(ctx.Event.Data.OrderId, "ups"));
                return sent.Ids.Single();
            })
            .AddFunction<OrderShipped>("on-shipped", async (ctx, _) =>
                await ctx.Step.RunAsync("log", _ => Task.FromResult(ctx.Event.Data.Carrier)))
            .AddFunction<Signal>("waiter", async (ctx, _) =>
            {
                var shipped = await ctx.Step.WaitForEventAsync<OrderShipped>("wait", TimeSpan.FromHours(1));
                return shipped!.Data.OrderId;
            });
        await using var host = builder.Build();
        var waiter = Assert.Single(await host.SendAsync(new Signal("w")));

        var announce = Assert.Single(await host.SendAsync(new OrderPlaced("o-7", 1m)));

        var eventId = announce.GetOutput<string>();
        Assert.Equal(TestStepKind.SendEvent, announce.GetStep("ship-it").Kind);
        var shipped = Assert.Single(host.Events, e => e.Name == "test/order.shipped");
        Assert.Equal(eventId, shipped.Id);
        Assert.Equal("o-7", shipped.GetData<OrderShipped>().OrderId);
        var onShipped = Assert.Single(host.Runs, r => r.FunctionId == "on-shipped");
        Assert.Equal("ups", onShipped.GetOutput<string>());
        Assert.Equal("o-7", waiter.GetOutput<string>());
    }

    [Fact]
    public async Task SendAsync_SameEventIdTwice_StartsOneRun()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<Signal>("once", (_, _) => Task.FromResult<object?>("ok"));
        await using var host = builder.Build();

        Assert.Single(await host.SendAsync(new Signal("a"), id: "evt-1"));
        Assert.Empty(await host.SendAsync(new Signal("b"), id: "evt-1"));

        Assert.Single(host.Runs);
        Assert.Equal("a", Assert.Single(host.Events).GetData<Signal>().Value);
    }

    [Fact]
    public async Task SendAsync_TriggerWithIfExpression_StartsOnlyMatchingEvents()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<OrderPlaced>("big-orders", (_, _) => Task.FromResult<object?>("big"),
            o => o.OnEvent<OrderPlaced>("event.data.amount > 100"));
        await using var host = builder.Build();

        Assert.Empty(await host.SendAsync(new OrderPlaced("small", 10m)));
        Assert.Single(await host.SendAsync(new OrderPlaced("big", 150m)));
    }

    [Fact]
    public void Build_TriggerExpressionDoesNotCompile_ThrowsNamingTheFunction()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<Signal>("bad", (_, _) => Task.FromResult<object?>(null),
            o => o.OnEvent("test/signal", "event.data.value ==="));

        var error = Assert.Throws<InvalidOperationException>(builder.Build);

        Assert.Contains("function \"bad\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvokeAsync_FromAFunction_RunsTheChildAndReturnsItsOutput()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions
            .AddFunction<Signal>("parent", async (ctx, _) =>
            {
                var doubled = await ctx.Step.InvokeAsync<int>("call-child", "double", new { x = 21 });
                try
                {
                    await ctx.Step.InvokeAsync<int>("call-failing", "fails", null);
                    return "unexpected";
                }
                catch (StepFailedException e)
                {
                    return $"{doubled} {e.ErrorName}: {e.Message}";
                }
            })
            .AddFunction<JsonElement>("double", async (ctx, _) =>
                await ctx.Step.RunAsync("times-two", _ => Task.FromResult(ctx.Event.Data.GetProperty("x").GetInt32() * 2)),
                o => o.OnEvent("test/never"))
            .AddFunction<JsonElement>("fails", (_, _) => throw new NonRetriableException("child broke"), o => o.OnEvent("test/never"));
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(new Signal("go")));

        Assert.Equal("42 NonRetriableError: child broke", run.GetOutput<string>());
        Assert.Equal(TestStepKind.Invoke, run.GetStep("call-child").Kind);
        var child = Assert.Single(host.Runs, r => r.FunctionId == "double");
        Assert.Equal("inngest/function.invoked", child.Event.Name);
        Assert.Equal(42, child.GetOutput<int>());
    }

    [Fact]
    public async Task InvokeAsync_ChildOutlastsTheTimeout_StepFailsWithInvokeTimeout()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions
            .AddFunction<Signal>("parent", async (ctx, _) =>
            {
                try
                {
                    return await ctx.Step.InvokeAsync<string>("call-slow", "slow", null, TimeSpan.FromMinutes(5));
                }
                catch (StepFailedException e)
                {
                    return e.ErrorName;
                }
            })
            .AddFunction<JsonElement>("slow", async (ctx, _) =>
            {
                await ctx.Step.WaitForEventAsync<Signal>("never", TimeSpan.FromDays(1));
                return "late";
            }, o => o.OnEvent("test/never"));
        await using var host = builder.Build();
        var run = Assert.Single(await host.SendAsync(new Signal("go")));

        await host.AdvanceTimeAsync(TimeSpan.FromMinutes(5));

        Assert.Equal("InngestInvokeTimeoutError", run.GetOutput<string>());
    }

    [Fact]
    public async Task InvokeAsync_FromTheTest_StartsTheFunctionWithInvokedEvent()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<OrderPlaced>("echo", (ctx, _) => Task.FromResult<object?>(ctx.Event.Data.OrderId));
        await using var host = builder.Build();

        var run = await host.InvokeAsync("echo", new OrderPlaced("o-3", 1m));

        Assert.Equal("o-3", run.GetOutput<string>());
        Assert.Equal("inngest/function.invoked", run.Event.Name);
        Assert.Empty(host.Events);
    }

    [Fact]
    public async Task TriggerCronAsync_CronFunction_RunsWithScheduledTimerEvent()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions
            .AddFunction<JsonElement>("nightly", (ctx, _) => Task.FromResult<object?>(ctx.Event.Name), o => o.OnCron("0 3 * * *"))
            .AddFunction<Signal>("not-cron", (_, _) => Task.FromResult<object?>(null));
        await using var host = builder.Build();

        var run = await host.TriggerCronAsync("nightly");

        Assert.Equal("inngest/scheduled.timer", run.GetOutput<string>());
        Assert.Equal("0 3 * * *", run.Event.Data.GetProperty("cron").GetString());
        await Assert.ThrowsAsync<ArgumentException>(() => host.TriggerCronAsync("not-cron"));
        await Assert.ThrowsAsync<ArgumentException>(() => host.TriggerCronAsync("missing"));
    }

    [Fact]
    public async Task EventSender_FromAppCode_StartsAndDrivesRuns()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<OrderPlaced>("charge", async (ctx, _) =>
            await ctx.Step.RunAsync("charge", _ => Task.FromResult(ctx.Event.Data.Amount)));
        await using var host = builder.Build();

        var sent = await host.Services.GetRequiredService<IEventSender>().SendAsync(new OrderPlaced("o-9", 9m));

        var run = Assert.Single(host.Runs);
        Assert.Equal(sent.Ids.Single(), run.Event.Id);
        Assert.Equal(9m, run.GetOutput<decimal>());
    }

    [Fact]
    public async Task RunUntilIdleAsync_FunctionLoopsForever_StopsWithAClearError()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.MaxCallsPerOperation = 50;
        builder.Functions.AddFunction<Signal>("endless", async (ctx, _) =>
        {
            for (var i = 0; ; i++)
            {
                await ctx.Step.RunAsync("tick", _ => Task.FromResult(i));
            }
        });
        await using var host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.SendAsync(new Signal("go")));

        Assert.Contains("50 calls", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_AppRegistersItsOwnClockAndSender_TheHostsWin()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<IEventSender>(new RecordingEventSenderStub());
        builder.Functions.AddFunction<Signal>("clock", (ctx, _) =>
            Task.FromResult<object?>(ctx.Services.GetRequiredService<TimeProvider>().GetUtcNow()));
        await using var host = builder.Build();

        await host.Services.GetRequiredService<IEventSender>().SendAsync(new Signal("go"));

        Assert.Same(host.TimeProvider, host.Services.GetRequiredService<TimeProvider>());
        Assert.Equal(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), Assert.Single(host.Runs).GetOutput<DateTimeOffset>());
    }

    private sealed class RecordingEventSenderStub : IEventSender
    {
        public Task<SendEventsResult> SendAsync<T>(T data, CancellationToken cancellationToken = default)
            where T : notnull =>
            throw new InvalidOperationException("The app's own sender must not be used under the test host.");

        public Task<SendEventsResult> SendAsync(IReadOnlyList<EventMessage> events, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("The app's own sender must not be used under the test host.");
    }

    private static DurableTestHost BuildShippingHost()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.Functions.AddFunction<OrderPlaced>("ship", async (ctx, _) =>
        {
            var shipped = await ctx.Step.WaitForEventAsync<OrderShipped>(
                "wait-shipped", TimeSpan.FromDays(2), "async.data.orderId == event.data.orderId");
            return shipped?.Data.Carrier ?? "not shipped";
        });
        return builder.Build();
    }
}
