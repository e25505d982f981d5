using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Execution;
using FunctionSdk.Protocol;
using FunctionSdk.Tests.Infrastructure;

namespace FunctionSdk.Tests.Engine;

/// <summary>Every step verb: what it reports when new, what it returns when stored.</summary>
public sealed class StepKindTests
{
    [Fact]
    public async Task RunAsync_NewStepOnDiscovery_RunsItAndReportsStepRun()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            var a = await ctx.Step.RunAsync("a", _ => Task.FromResult("A"));
            return new { a };
        }, CallBuilder.For());

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal(Op.StepRun, op.Code);
        Assert.Equal(StepIds.Hash("a"), op.Id);
        Assert.Equal("a", op.Name);
        Assert.Equal("a", op.DisplayName);
        Assert.Equal("\"A\"", op.Data!.ToJsonString());
        Assert.NotNull(op.Timing);
    }

    [Fact]
    public async Task RunAsync_StoredStep_ReturnsStoredValueWithoutRunningBody()
    {
        var runs = 0;
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            var a = await ctx.Step.RunAsync("a", _ =>
            {
                runs++;
                return Task.FromResult(new Order("o-1", 12.5m));
            });
            return a;
        }, CallBuilder.For().Stored("a", new Order("o-9", 99m)));

        var returned = Assert.IsType<FunctionReturned>(result);
        Assert.Equal(0, runs);
        Assert.Equal("""{"id":"o-9","amount":99}""", returned.Output!.ToJsonString());
    }

    [Fact]
    public async Task RunAsync_StoredRawValueWithoutDataWrapper_IsTheData()
    {
        var result = await EngineHarness.RunAsync(
            async (ctx, _) => await ctx.Step.RunAsync("a", _ => Task.FromResult("fresh")),
            CallBuilder.For().StoredRaw("a", JsonValue.Create("raw-A")));

        Assert.Equal("\"raw-A\"", Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
    }

    [Fact]
    public async Task RunAsync_VoidStep_StoresNullAndReplays()
    {
        var ran = 0;
        Func<FunctionContext<JsonElement>, CancellationToken, Task<object?>> function = async (ctx, _) =>
        {
            await ctx.Step.RunAsync("side-effect", _ =>
            {
                ran++;
                return Task.CompletedTask;
            });
            return "done";
        };

        var first = Assert.Single(Assert.IsType<OpsReturned>(await EngineHarness.RunAsync(function, CallBuilder.For())).Ops);
        Assert.Null(first.Data);
        var second = await EngineHarness.RunAsync(function, CallBuilder.For().Stored("side-effect", null));
        Assert.Equal("\"done\"", Assert.IsType<FunctionReturned>(second).Output!.ToJsonString());
        Assert.Equal(1, ran);
    }

    [Fact]
    public async Task RunAsync_StepContext_CarriesStableIdempotencyKey()
    {
        var keys = new List<string>();
        Func<FunctionContext<JsonElement>, CancellationToken, Task<object?>> function = async (ctx, _) =>
            await ctx.Step.RunAsync("charge", (step, _) =>
            {
                keys.Add(step.IdempotencyKey);
                return Task.FromResult(step.Attempt);
            });

        await EngineHarness.RunAsync(function, CallBuilder.For().Run("01HRUNA"));
        await EngineHarness.RunAsync(function, CallBuilder.For().Run("01HRUNA").Attempt(2));
        await EngineHarness.RunAsync(function, CallBuilder.For().Run("01HRUNB"));

        Assert.Equal($"01HRUNA:{StepIds.Hash("charge")}", keys[0]);
        Assert.Equal(keys[0], keys[1]);
        Assert.NotEqual(keys[0], keys[2]);
    }

    [Fact]
    public async Task SleepAsync_New_ReportsSleepWithDurationInName()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await ctx.Step.SleepAsync("nap", TimeSpan.FromSeconds(90));
            return null;
        }, CallBuilder.For());

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal((Op.Sleep, "1m30s", StepIds.Hash("nap")), (op.Code, op.Name, op.Id));
        Assert.Null(op.Timing);
    }

    [Fact]
    public async Task SleepUntilAsync_New_ReportsSleepWithIsoTimeInName()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await ctx.Step.SleepUntilAsync("nap-until", DateTimeOffset.Parse("2026-11-28T04:46:01.824Z", System.Globalization.CultureInfo.InvariantCulture));
            return null;
        }, CallBuilder.For());

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal((Op.Sleep, "2026-11-28T04:46:01.824Z"), (op.Code, op.Name));
    }

    [Fact]
    public async Task SleepAsync_Elapsed_Continues()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await ctx.Step.SleepAsync("nap", TimeSpan.FromDays(1));
            return "awake";
        }, CallBuilder.For().StoredRaw("nap", null));

        Assert.Equal("\"awake\"", Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
    }

    [Fact]
    public async Task WaitForEventAsync_New_ReportsEventNameTimeoutAndIf()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await ctx.Step.WaitForEventAsync<Shipped>("wait-shipped", TimeSpan.FromHours(1), "async.data.orderId == event.data.orderId");
            return null;
        }, CallBuilder.For());

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal((Op.WaitForEvent, "shop/order.shipped"), (op.Code, op.Name));
        Assert.Equal("""{"timeout":"1h","if":"async.data.orderId == event.data.orderId"}""", op.Opts.ToJsonString());
    }

    [Fact]
    public async Task WaitForEventAsync_MatchedEvent_ReturnsTypedEvent()
    {
        var shipped = new JsonObject
        {
            ["name"] = "shop/order.shipped",
            ["data"] = new JsonObject { ["orderId"] = "o-1", ["carrier"] = "ups" },
            ["id"] = "evt-9",
            ["ts"] = 1700000000123,
        };
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            var e = await ctx.Step.WaitForEventAsync<Shipped>("wait-shipped", TimeSpan.FromHours(1));
            return new { e!.Name, e.Data.Carrier, e.Id, At = e.Timestamp!.Value.ToUnixTimeMilliseconds() };
        }, CallBuilder.For().StoredRaw("wait-shipped", shipped));

        Assert.Equal(
            """{"name":"shop/order.shipped","carrier":"ups","id":"evt-9","at":1700000000123}""",
            Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
    }

    [Fact]
    public async Task WaitForEventAsync_TimedOut_ReturnsNull()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            var e = await ctx.Step.WaitForEventAsync<JsonElement>("wait", "test/approve", TimeSpan.FromMinutes(5));
            return new { timedOut = e is null };
        }, CallBuilder.For().StoredRaw("wait", null));

        Assert.Equal("""{"timedOut":true}""", Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
    }

    [Fact]
    public async Task InvokeAsync_New_ReportsInvokeFunctionWithSlugPayloadAndTimeout()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await ctx.Step.InvokeAsync<JsonElement>("call-child", "child", new { x = 21 }, TimeSpan.FromMinutes(10));
            return null;
        }, CallBuilder.For());

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal(Op.InvokeFunction, op.Code);
        Assert.Null(op.Name);
        Assert.Equal(
            """{"payload":{"data":{"x":21}},"function_id":"test-app-child","timeout":"10m"}""",
            op.Opts.ToJsonString());
    }

    [Fact]
    public async Task InvokeAsync_OtherApp_UsesItsPrefix()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            await ctx.Step.InvokeAsync<JsonElement>("call", "mailer", null, appId: "emails");
            return null;
        }, CallBuilder.For());

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal("""{"payload":{"data":{}},"function_id":"emails-mailer"}""", op.Opts.ToJsonString());
    }

    [Fact]
    public async Task InvokeAsync_ChildCompleted_ReturnsItsOutput()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            var child = await ctx.Step.InvokeAsync<ChildResult>("call-child", "child", new { x = 21 });
            return child.Doubled + 1;
        }, CallBuilder.For().Stored("call-child", new { doubled = 42 }));

        Assert.Equal("43", Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
    }

    [Fact]
    public async Task InvokeAsync_ChildFailed_ThrowsStepFailedException()
    {
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            try
            {
                await ctx.Step.InvokeAsync<ChildResult>("call-child", "child", null);
                return "no error";
            }
            catch (StepFailedException e)
            {
                return $"{e.StepId}: {e.ErrorName}: {e.Message}";
            }
        }, CallBuilder.For().StoredError("call-child", "InngestInvokeTimeoutError", "Timed out waiting for invoked function to complete"));

        Assert.Equal(
            "\"call-child: InngestInvokeTimeoutError: Timed out waiting for invoked function to complete\"",
            Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
    }

    [Fact]
    public async Task SendEventAsync_New_SendsAndReportsSendEventStepRun()
    {
        var sender = new RecordingEventSender();
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            var sent = await ctx.Step.SendEventAsync("notify", new Shipped("o-1", "ups"));
            return sent.Ids;
        }, CallBuilder.For(), sender);

        var op = Assert.Single(Assert.IsType<OpsReturned>(result).Ops);
        Assert.Equal((Op.StepRun, "sendEvent", "notify"), (op.Code, op.Name, op.DisplayName));
        Assert.Equal("""{"type":"step.sendEvent"}""", op.Opts.ToJsonString());
        Assert.Equal("""{"ids":["evt-0"]}""", op.Data!.ToJsonString());
        var sent = Assert.Single(sender.Sent);
        Assert.Equal("shop/order.shipped", sent.Name);
    }

    [Fact]
    public async Task SendEventAsync_Stored_DoesNotSendAgain()
    {
        var sender = new RecordingEventSender();
        var result = await EngineHarness.RunAsync(async (ctx, _) =>
        {
            var sent = await ctx.Step.SendEventAsync("notify", [new EventMessage("test/other", new { n = 1 })]);
            return sent.Ids;
        }, CallBuilder.For().Stored("notify", new { ids = new[] { "01HSENT" } }), sender);

        Assert.Equal("""["01HSENT"]""", Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
        Assert.Empty(sender.Sent);
    }

    [Fact]
    public async Task TypedEvent_DataReadIntoRecord()
    {
        var result = await EngineHarness.RunAsync<Order>(
            (ctx, _) => Task.FromResult<object?>($"{ctx.Event.Name} {ctx.Event.Data.Id} {ctx.Event.Data.Amount} {ctx.Event.Id}"),
            CallBuilder.For("shop/order.placed", new { id = "o-7", amount = 3.5 }));

        Assert.Equal("\"shop/order.placed o-7 3.5 01HEVT0000000000000000001\"", Assert.IsType<FunctionReturned>(result).Output!.ToJsonString());
    }

    [Fact]
    public async Task TypedEvent_DataOfWrongShape_FailsForGood()
    {
        var result = await EngineHarness.RunAsync<Order>(
            (ctx, _) => Task.FromResult<object?>(ctx.Event.Data.Id),
            CallBuilder.For("shop/order.placed", new { id = new[] { 1 } }));

        var failed = Assert.IsType<FunctionFailed>(result);
        Assert.True(failed.Final);
        Assert.Contains("cannot be read as Order", failed.Error["message"]!.ToString(), StringComparison.Ordinal);
    }

    [EventName("shop/order.placed")]
    private sealed record Order(string Id, decimal Amount);

    [EventName("shop/order.shipped")]
    private sealed record Shipped(string OrderId, string Carrier);

    private sealed record ChildResult(int Doubled);
}
