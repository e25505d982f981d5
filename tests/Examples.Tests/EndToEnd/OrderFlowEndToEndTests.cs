using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Examples.Tests.Infrastructure;
using OrderFlow.Email;
using OrderFlow.Orders;
using OrderFlow.Payments;
using Platform.Executor.Queries;

namespace Examples.Tests.EndToEnd;

/// <summary>The platform and the OrderFlow app, both in process on loopback ports, the app synced on start.</summary>
public sealed class OrderFlowFixture : IAsyncLifetime
{
    public const string AppId = "order-flow";
    public const string FunctionSlug = "order-flow-process-order";

    /// <summary>The app's settings for the tests: a generous shipment timeout, a two-second delivery sleep.</summary>
    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["OrderFlow:ShipmentTimeout"] = "00:01:00",
        ["OrderFlow:DeliveryWait"] = "00:00:02",
    };

    public PlatformHost Platform { get; private set; } = null!;

    /// <summary>The running app; the restart test replaces it.</summary>
    public ExampleApp<ProcessOrder> App { get; set; } = null!;

    public async Task InitializeAsync()
    {
        Platform = await PlatformHost.StartAsync("orderflow");
        App = await ExampleApp<ProcessOrder>.StartAsync(Platform, AppId, Settings);
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Platform.DisposeAsync();
    }
}

/// <summary>
/// OrderFlow end to end: orders placed through the app's own API, events through the platform's <c>POST /e/{key}</c>,
/// runs checked through <c>GET /api/v1/runs/{runId}</c>, side effects checked in the app's fake services.
/// </summary>
public sealed class OrderFlowEndToEndTests(OrderFlowFixture fixture, ITestOutputHelper output) : IClassFixture<OrderFlowFixture>
{
    private PlatformHost Platform => fixture.Platform;

    [Fact]
    public async Task PlaceOrder_ShipmentArrives_RunCompletesThroughEveryStep()
    {
        var (orderId, runId) = await PlaceOrderAsync("tok_visa", "MUG-01");
        await Platform.WaitForStatusAsync(runId, "Waiting");

        // A shipment of another order does not match the wait's `if` expression; this order's does.
        await Platform.SendEventAsync("shop/shipment.created", new { orderId = "ord_other", carrier = "DHL", trackingNumber = "JD-OTHER" });
        await Platform.SendEventAsync("shop/shipment.created", new { orderId, carrier = "UPS", trackingNumber = "1Z-100" });
        var run = await Platform.WaitForStatusAsync(runId, "Completed");
        output.WriteLine($"process-order run {runId}: {(run.EndedAt - run.CreatedAt)?.TotalSeconds:0.00} s from order to completion (2 s of it the durable sleep)");

        var outcome = run.Output!.Value.Deserialize<OrderOutcome>(JsonSerializerOptions.Web)!;
        Assert.Equal(new OrderOutcome(orderId, "completed", outcome.ChargeId, "1Z-100", null), outcome);
        Assert.Equal(
            new[] { "charge-card", "reserve-stock", "wait-for-shipment", "wait-for-delivery", "email-receipt", "announce-completion" }.Select(StepIds.Hash),
            run.Steps.Select(s => s.StepId));
        Assert.Equal(["StepRun", "StepRun", "WaitForEvent", "Sleep", "StepRun", "StepRun"], run.Steps.Select(s => s.Op));
        Assert.All(run.Steps, s => Assert.Equal(("Completed", 1), (s.Status, s.Attempts)));
        var shipment = Step(run, "wait-for-shipment").Output!.Value;
        Assert.Equal("1Z-100", shipment.GetProperty("data").GetProperty("trackingNumber").GetString());
        var sleep = Step(run, "wait-for-delivery");
        Assert.True(sleep.CompletedAt - Step(run, "reserve-stock").CompletedAt >= TimeSpan.FromSeconds(2));

        // Every side effect once, under the idempotency key the platform shows for its step.
        var charge = Assert.Single(fixture.App.Get<FakePaymentGateway>().Charges, c => c.Value.OrderId == orderId);
        Assert.Equal(Step(run, "charge-card").IdempotencyKey, charge.Key);
        Assert.Equal(outcome.ChargeId, charge.Value.ChargeId);
        var receipt = Assert.Single(fixture.App.Get<FakeEmailSender>().Sent, e => e.Key == Step(run, "email-receipt").IdempotencyKey);
        Assert.Contains("1Z-100", receipt.Value.Body, StringComparison.Ordinal);

        // step.sendEvent reached the platform's event API.
        var completed = await Eventually.WaitAsync(
            () => Platform.EventsNamedAsync("shop/order.completed"),
            events => events.Any(e => e.Data.GetProperty("orderId").GetString() == orderId),
            "the shop/order.completed event");
        var sent = Step(run, "announce-completion").Output!.Value.GetProperty("ids")[0].GetString();
        Assert.Contains(completed, e => e.Id == sent);
    }

    [Fact]
    public async Task PlaceOrder_PaymentGatewayTimesOutOnce_ChargeRetriedThenSucceeds()
    {
        var (orderId, runId) = await PlaceOrderAsync(FakePaymentGateway.FlakyCard, "TSHIRT-M");

        var run = await Platform.WaitForStatusAsync(runId, "Waiting");

        var charge = Step(run, "charge-card");
        Assert.Equal(("Completed", 2), (charge.Status, charge.Attempts));
        var failed = Assert.Single(charge.FailedAttempts);
        Assert.Equal("PaymentGatewayUnavailableException", failed.Error.GetProperty("name").GetString());
        Assert.NotNull(failed.RetryAt);
        var payments = fixture.App.Get<FakePaymentGateway>();
        Assert.Single(payments.Charges, c => c.Value.OrderId == orderId);
        Assert.Equal(charge.IdempotencyKey, payments.Charges.Single(c => c.Value.OrderId == orderId).Key);
    }

    [Fact]
    public async Task PlaceOrder_ItemSoldOut_FailsForGoodAfterRefunding()
    {
        var (orderId, runId) = await PlaceOrderAsync("tok_visa", "LAMP-01");

        var run = await Platform.WaitForStatusAsync(runId, "Failed");

        Assert.Equal("OutOfStockException", run.Error!.Value.GetProperty("name").GetString());
        Assert.Contains("LAMP-01 is out of stock", run.Error.Value.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(
            new[] { "charge-card", "reserve-stock", "refund-charge", "email-cancellation" }.Select(StepIds.Hash),
            run.Steps.Select(s => s.StepId));
        var reserve = Step(run, "reserve-stock");
        Assert.Equal(("Failed", 1), (reserve.Status, reserve.Attempts));
        var payments = fixture.App.Get<FakePaymentGateway>();
        var charge = payments.Charges.Single(c => c.Value.OrderId == orderId).Value;
        var refund = Assert.Single(payments.Refunds, r => r.Key == Step(run, "refund-charge").IdempotencyKey).Value;
        Assert.Equal((charge.ChargeId, charge.Amount), (refund.ChargeId, refund.Amount));
        Assert.Contains(fixture.App.Get<FakeEmailSender>().Sent, e => e.Key == Step(run, "email-cancellation").IdempotencyKey);
    }

    [Fact]
    public async Task PlaceOrder_CardDeclined_PlatformRunsTheFailureHandlerWithTheError()
    {
        var (orderId, runId) = await PlaceOrderAsync(FakePaymentGateway.DeclinedCard, "MUG-01");

        var run = await Platform.WaitForStatusAsync(runId, "Failed");
        Assert.Equal("NonRetriableError", run.Error!.Value.GetProperty("name").GetString());

        // The platform sent inngest/function.failed (id = the run id), which started process-order-failure.
        var failedEvent = await Eventually.WaitAsync(
            () => Platform.EventsNamedAsync("inngest/function.failed"),
            events => events.Any(e => e.EventId == runId),
            "the inngest/function.failed event of the run");
        var handlerRunId = await Platform.RunOfEventAsync(failedEvent.Single(e => e.EventId == runId).Id, OrderFlowFixture.FunctionSlug + "-failure");
        var handler = await Platform.WaitForStatusAsync(handlerRunId, "Completed");
        output.WriteLine($"process-order run {runId} failed at {run.EndedAt:HH:mm:ss.fff}; its failure handler run {handlerRunId} completed {(handler.EndedAt - run.EndedAt)?.TotalSeconds:0.00} s later");

        Assert.Equal(
            new[] { "record-failure", "announce-failure" }.Select(StepIds.Hash),
            handler.Steps.Select(s => s.StepId));
        var recorded = fixture.App.Get<FakeFailedOrders>().Orders[Step(handler, "record-failure").IdempotencyKey];
        Assert.Equal(new FailedOrder(orderId, "ada@example.com", runId, "NonRetriableError", run.Error.Value.GetProperty("message").GetString()!), recorded);
        var announced = await Eventually.WaitAsync(
            () => Platform.EventsNamedAsync("shop/order.failed"),
            events => events.Any(e => e.Data.GetProperty("orderId").GetString() == orderId),
            "the shop/order.failed event");
        Assert.Equal(runId, announced.Single(e => e.Data.GetProperty("orderId").GetString() == orderId).Data.GetProperty("runId").GetString());
        Assert.DoesNotContain(fixture.App.Get<FakePaymentGateway>().Charges, c => c.Value.OrderId == orderId);
    }

    [Fact]
    public async Task AppRestartsWhileTheRunSleeps_RunCompletesAndStoredStepsDoNotRunAgain()
    {
        var (orderId, runId) = await PlaceOrderAsync("tok_visa", "MUG-01");
        await Platform.WaitForStatusAsync(runId, "Waiting");
        await Platform.SendEventAsync("shop/shipment.created", new { orderId, carrier = "UPS", trackingNumber = "1Z-RESTART" });
        await Platform.WaitForStatusAsync(runId, "Sleeping");
        var before = fixture.App;
        var oldPayments = before.Get<FakePaymentGateway>();
        var oldEmail = before.Get<FakeEmailSender>();
        Assert.Equal(1, oldPayments.Charges.Count(c => c.Value.OrderId == orderId));

        // Stop the app in the middle of the run's durable sleep and start a new process of it on the same port.
        var port = before.Port;
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await before.DisposeAsync();
        var stopped = stopping.Elapsed;
        fixture.App = await ExampleApp<ProcessOrder>.StartAsync(Platform, OrderFlowFixture.AppId, OrderFlowFixture.Settings, port);
        var restarted = stopping.Elapsed;
        var run = await Platform.WaitForStatusAsync(runId, "Completed");
        output.WriteLine(
            $"app stopped in {stopped.TotalMilliseconds:0} ms, new app synced {restarted.TotalMilliseconds:0} ms after the stop began, " +
            $"run completed {stopping.Elapsed.TotalMilliseconds:0} ms after it");

        Assert.Equal("1Z-RESTART", run.Output!.Value.GetProperty("trackingNumber").GetString());
        Assert.DoesNotContain(oldEmail.Sent.Keys, k => k.StartsWith(runId, StringComparison.Ordinal));
        Assert.Equal(1, oldPayments.Charges.Count(c => c.Value.OrderId == orderId));
        var after = fixture.App;
        Assert.Equal(0, after.Get<FakePaymentGateway>().ChargeCalls);
        Assert.Empty(after.Get<FakePaymentGateway>().Charges);
        Assert.Empty(after.Get<OrderFlow.Warehouse.FakeWarehouse>().Reservations);
        var receipt = Assert.Single(after.Get<FakeEmailSender>().Sent);
        Assert.Equal(Step(run, "email-receipt").IdempotencyKey, receipt.Key);
        Assert.All(run.Steps, s => Assert.Equal(1, s.Attempts));
    }

    [Fact]
    public async Task PlaceOrder_InvalidRequest_RejectedBeforeAnyEvent()
    {
        using var response = await fixture.App.Http.PostAsJsonAsync("/orders", new { customerEmail = "not-an-email", lines = Array.Empty<object>() });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("customerEmail", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task<(string OrderId, string RunId)> PlaceOrderAsync(string card, string sku)
    {
        using var response = await fixture.App.Http.PostAsJsonAsync("/orders", new
        {
            customerEmail = "ada@example.com",
            cardToken = card,
            lines = new[] { new { sku, quantity = 1, unitPrice = 25m } },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = (await response.Content.ReadFromJsonAsync<OrderApi.OrderAccepted>())!;
        return (accepted.OrderId, await Platform.RunOfEventAsync(accepted.EventId, OrderFlowFixture.FunctionSlug));
    }

    private static StepDto Step(RunDetailDto run, string id) =>
        run.Steps.SingleOrDefault(s => s.StepId == StepIds.Hash(id)) ?? throw new InvalidOperationException(
            $"Run {run.Id} has no step \"{id}\"; it has {string.Join(", ", run.Steps.Select(s => s.Name))}");
}
