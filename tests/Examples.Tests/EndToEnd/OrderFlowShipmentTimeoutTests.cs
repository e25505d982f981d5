using System.Net;
using System.Net.Http.Json;
using Examples.Tests.Infrastructure;
using OrderFlow.Orders;
using OrderFlow.Payments;
using OrderFlow.Warehouse;

namespace Examples.Tests.EndToEnd;

/// <summary>
/// OrderFlow with a two-second shipment timeout: the wait for <c>shop/shipment.created</c> times out on the platform
/// and the function compensates (release, refund, email) and announces the cancellation.
/// </summary>
public sealed class OrderFlowShipmentTimeoutTests : IAsyncLifetime
{
    private PlatformHost _platform = null!;
    private ExampleApp<ProcessOrder> _app = null!;

    public async Task InitializeAsync()
    {
        _platform = await PlatformHost.StartAsync("orderflow_timeout");
        _app = await ExampleApp<ProcessOrder>.StartAsync(_platform, OrderFlowFixture.AppId, new Dictionary<string, string?>
        {
            ["OrderFlow:ShipmentTimeout"] = "00:00:02",
            ["OrderFlow:DeliveryWait"] = "00:00:01",
        });
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _platform.DisposeAsync();
    }

    [Fact]
    public async Task PlaceOrder_NoShipmentBeforeTheTimeout_CancelsAndRefunds()
    {
        using var response = await _app.Http.PostAsJsonAsync("/orders", new
        {
            customerEmail = "grace@example.com",
            lines = new[] { new { sku = "POSTER-A2", quantity = 3, unitPrice = 9.5m } },
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = (await response.Content.ReadFromJsonAsync<OrderApi.OrderAccepted>())!;
        var runId = await _platform.RunOfEventAsync(accepted.EventId, OrderFlowFixture.FunctionSlug);
        var run = await _platform.WaitForStatusAsync(runId, "Completed");

        var wait = run.Steps.Single(s => s.StepId == StepIds.Hash("wait-for-shipment"));
        Assert.Equal(("WaitForEvent", "Completed"), (wait.Op, wait.Status));
        Assert.Null(wait.Output);
        Assert.True(wait.CompletedAt - run.Steps.Single(s => s.StepId == StepIds.Hash("reserve-stock")).CompletedAt >= TimeSpan.FromSeconds(2));
        Assert.Equal(
            new[] { "charge-card", "reserve-stock", "wait-for-shipment", "release-stock", "refund-charge", "email-cancellation", "announce-cancellation" }
                .Select(StepIds.Hash),
            run.Steps.Select(s => s.StepId));
        Assert.Equal("cancelled", run.Output!.Value.GetProperty("status").GetString());
        // Three posters were reserved, then given back.
        Assert.Equal(3, Assert.Single(_app.Get<FakeWarehouse>().Reservations).Value.Lines.Single().Quantity);
        Assert.Single(_app.Get<FakeWarehouse>().Releases);
        Assert.Equal(100, _app.Get<FakeWarehouse>().InStock("POSTER-A2"));
        var refund = Assert.Single(_app.Get<FakePaymentGateway>().Refunds).Value;
        Assert.Equal(28.5m, refund.Amount);
        var cancelled = await Eventually.WaitAsync(
            () => _platform.EventsNamedAsync("shop/order.cancelled"),
            events => events.Count > 0,
            "the shop/order.cancelled event");
        Assert.Equal(refund.RefundId, Assert.Single(cancelled).Data.GetProperty("refundId").GetString());
    }
}
