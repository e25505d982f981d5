using Examples.Tests.Infrastructure;
using FunctionSdk.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrderFlow;
using OrderFlow.Email;
using OrderFlow.Orders;
using OrderFlow.Payments;
using OrderFlow.Warehouse;

namespace Examples.Tests.TestHost;

/// <summary>The OrderFlow example's function under the in-process test host, with its real (fake-backed) services.</summary>
public sealed class OrderFlowTestHostTests : IAsyncLifetime
{
    private static readonly TimeSpan s_shipmentTimeout = TimeSpan.FromDays(3);
    private static readonly TimeSpan s_deliveryWait = TimeSpan.FromDays(2);

    private DurableTestHost _host = null!;

    public Task InitializeAsync()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.AppId = "order-flow";
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["OrderFlow:ShipmentTimeout"] = s_shipmentTimeout.ToString(),
            ["OrderFlow:DeliveryWait"] = s_deliveryWait.ToString(),
        });
        builder.Services.AddOrderFlowServices(builder.Configuration);
        builder.Functions.AddOrderFlowFunctions();
        _host = builder.Build();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private FakePaymentGateway Payments => _host.Services.GetRequiredService<FakePaymentGateway>();

    private FakeWarehouse Warehouse => _host.Services.GetRequiredService<FakeWarehouse>();

    private FakeEmailSender Email => _host.Services.GetRequiredService<FakeEmailSender>();

    [Fact]
    public async Task ProcessOrder_ShipmentArrives_ChargesOnceWaitsSleepsAndEmailsTheReceipt()
    {
        var start = _host.UtcNow;
        var run = Assert.Single(await _host.SendAsync(Order("ord-1", "tok_visa", "MUG-01")));
        Assert.Equal(TestRunStatus.Waiting, run.Status);
        Assert.Equal(["charge-card", "reserve-stock"], run.Steps.Select(s => s.Id));

        await _host.SendAsync(new ShipmentCreated("ord-other", "UPS", "1Z-OTHER"));
        Assert.Equal(TestRunStatus.Waiting, run.Status);
        await _host.SendAsync(new ShipmentCreated("ord-1", "UPS", "1Z-1"));

        var outcome = (await run.WaitForCompletionAsync()).GetOutput<OrderOutcome>()!;
        Assert.Equal("completed", outcome.Status);
        Assert.Equal("1Z-1", outcome.TrackingNumber);
        Assert.Equal(
            [TestStepKind.Run, TestStepKind.Run, TestStepKind.WaitForEvent, TestStepKind.Sleep, TestStepKind.Run, TestStepKind.SendEvent],
            run.Steps.Select(s => s.Kind));
        Assert.Equal(start + s_deliveryWait, _host.UtcNow);

        var charge = Assert.Single(Payments.Charges);
        Assert.Equal($"{run.Id}:{StepIds.Hash("charge-card")}", charge.Key);
        Assert.Equal(25m, charge.Value.Amount);
        Assert.Equal(1, Payments.ChargeCalls);
        var receipt = Assert.Single(Email.Sent);
        Assert.Equal($"{run.Id}:{StepIds.Hash("email-receipt")}", receipt.Key);
        Assert.Contains("1Z-1", receipt.Value.Body, StringComparison.Ordinal);
        var completed = Assert.Single(_host.Events, e => e.Name == "shop/order.completed");
        Assert.Equal(outcome.ChargeId, completed.GetData<OrderCompleted>().ChargeId);
    }

    [Fact]
    public async Task ProcessOrder_FlakyCard_ChargeRetriedAndChargedOnce()
    {
        var run = Assert.Single(await _host.SendAsync(Order("ord-2", FakePaymentGateway.FlakyCard, "MUG-01")));

        var charge = run.GetStep("charge-card");
        Assert.Equal(2, charge.Attempts);
        Assert.Null(charge.Error);
        Assert.Equal(2, Payments.ChargeCalls);
        Assert.Single(Payments.Charges);
        Assert.Equal(TestRunStatus.Waiting, run.Status);
    }

    [Fact]
    public async Task ProcessOrder_ItemSoldOut_RefundsTheChargeThenFails()
    {
        var run = Assert.Single(await _host.SendAsync(Order("ord-3", "tok_visa", FakeWarehouse.SoldOutSku)));

        Assert.Throws<InvalidOperationException>(() => run.GetOutput<OrderOutcome>());
        Assert.Equal(TestRunStatus.Failed, run.Status);
        Assert.Equal("OutOfStockException", run.Error!.Name);
        Assert.Contains("LAMP-01 is out of stock", run.Error.Message, StringComparison.Ordinal);
        Assert.Equal(["charge-card", "reserve-stock", "refund-charge", "email-cancellation"], run.Steps.Select(s => s.Id));
        Assert.Equal(1, run.GetStep("reserve-stock").Attempts);
        var refund = Assert.Single(Payments.Refunds).Value;
        Assert.Equal(Assert.Single(Payments.Charges).Value.ChargeId, refund.ChargeId);
        Assert.Contains("could not reserve", Assert.Single(Email.Sent).Value.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProcessOrder_NoShipmentInTime_ReleasesStockRefundsAndAnnouncesTheCancellation()
    {
        var run = Assert.Single(await _host.SendAsync(Order("ord-4", "tok_visa", "POSTER-A2")));
        Assert.Equal(99, Warehouse.InStock("POSTER-A2"));

        await _host.AdvanceTimeAsync(s_shipmentTimeout);

        var outcome = run.GetOutput<OrderOutcome>()!;
        Assert.Equal("cancelled", outcome.Status);
        Assert.Null(run.GetStep("wait-for-shipment").Output);
        Assert.Equal(
            ["charge-card", "reserve-stock", "wait-for-shipment", "release-stock", "refund-charge", "email-cancellation", "announce-cancellation"],
            run.Steps.Select(s => s.Id));
        Assert.Equal(100, Warehouse.InStock("POSTER-A2"));
        Assert.Equal(outcome.RefundId, Assert.Single(Payments.Refunds).Value.RefundId);
        var cancelled = Assert.Single(_host.Events, e => e.Name == "shop/order.cancelled").GetData<OrderCancelled>();
        Assert.Equal("ord-4", cancelled.OrderId);
    }

    [Fact]
    public async Task ProcessOrder_CardDeclined_FailsAtOnceWithNothingToRefund()
    {
        var run = Assert.Single(await _host.SendAsync(Order("ord-5", FakePaymentGateway.DeclinedCard, "MUG-01")));

        Assert.Equal(TestRunStatus.Failed, run.Status);
        Assert.Equal("NonRetriableError", run.Error!.Name);
        Assert.Equal(1, Payments.ChargeCalls);
        Assert.Empty(Payments.Refunds);
        Assert.Empty(Warehouse.Reservations);
    }

    [Fact]
    public async Task ProcessOrder_FailsForGood_FailureHandlerRecordsTheOrderAndAnnouncesIt()
    {
        var run = Assert.Single(await _host.SendAsync(Order("ord-6", FakePaymentGateway.DeclinedCard, "MUG-01")));

        var handler = Assert.Single(_host.Runs, r => r.FunctionId == "process-order-failure");
        Assert.Equal(TestRunStatus.Completed, handler.Status);
        Assert.Equal(["record-failure", "announce-failure"], handler.Steps.Select(s => s.Id));
        var failed = Assert.Single(_host.Services.GetRequiredService<FakeFailedOrders>().Orders).Value;
        Assert.Equal(new FailedOrder("ord-6", "ada@example.com", run.Id, "NonRetriableError", run.Error!.Message), failed);
        var announced = Assert.Single(_host.Events, e => e.Name == "shop/order.failed").GetData<OrderFailed>();
        Assert.Equal(("ord-6", run.Id), (announced.OrderId, announced.RunId));
    }

    private static OrderPlaced Order(string orderId, string card, string sku) =>
        new(orderId, "ada@example.com", card, [new OrderLine(sku, 1, 25m)]);
}
