using System.Net.Mail;
using FunctionSdk;
using Microsoft.AspNetCore.Http.HttpResults;
using OrderFlow.Email;
using OrderFlow.Payments;
using OrderFlow.Warehouse;

namespace OrderFlow.Orders;

/// <summary>The shop's own HTTP API: place an order, report a shipment, look at what the fakes did.</summary>
public static class OrderApi
{
    public sealed record PlaceOrderRequest(string? CustomerEmail, string? CardToken, IReadOnlyList<OrderLine>? Lines);

    public sealed record OrderAccepted(string OrderId, string EventId);

    public sealed record ShipmentRequest(string? Carrier, string? TrackingNumber);

    public sealed record ShipmentAccepted(string OrderId, string EventId);

    public sealed record Ledger(
        IReadOnlyDictionary<string, Charge> Charges,
        IReadOnlyDictionary<string, Refund> Refunds,
        IReadOnlyDictionary<string, Reservation> Reservations,
        IReadOnlyDictionary<string, string> Releases,
        IReadOnlyDictionary<string, EmailMessage> Emails,
        int ChargeCalls,
        int RefundCalls,
        int EmailCalls);

    public static IEndpointRouteBuilder MapOrderApi(this IEndpointRouteBuilder app)
    {
        var orders = app.MapGroup("/orders").WithTags("Orders");
        orders.MapPost("/", PlaceOrderAsync);
        orders.MapPost("/{orderId}/shipments", ReportShipmentAsync);
        app.MapGet("/ledger", GetLedger).WithTags("Ledger");
        return app;
    }

    /// <summary>Validates the order and sends <c>shop/order.placed</c>; the durable function does the rest.</summary>
    private static async Task<Results<Accepted<OrderAccepted>, ProblemHttpResult>> PlaceOrderAsync(
        PlaceOrderRequest request, IEventSender events, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.CustomerEmail) || !MailAddress.TryCreate(request.CustomerEmail, out _))
        {
            return TypedResults.Problem(detail: "customerEmail: a valid email address is required", statusCode: 400);
        }

        if (request.Lines is not { Count: > 0 } lines || lines.Any(l => string.IsNullOrWhiteSpace(l.Sku) || l.Quantity < 1 || l.UnitPrice < 0))
        {
            return TypedResults.Problem(detail: "lines: at least one line with a sku, a quantity of 1 or more and a unit price", statusCode: 400);
        }

        var orderId = "ord_" + Guid.NewGuid().ToString("N")[..12];
        var placed = new OrderPlaced(orderId, request.CustomerEmail, request.CardToken ?? "tok_visa", lines);
        // The event id makes a retried send harmless: the platform starts one run per order.
        var sent = await events.SendAsync([EventMessage.From(placed, id: $"order-placed-{orderId}")], cancellationToken);
        return TypedResults.Accepted($"/orders/{orderId}", new OrderAccepted(orderId, sent.Ids[0]));
    }

    /// <summary>What the warehouse's webhook would send: <c>shop/shipment.created</c> for an order.</summary>
    private static async Task<Results<Accepted<ShipmentAccepted>, ProblemHttpResult>> ReportShipmentAsync(
        string orderId, ShipmentRequest request, IEventSender events, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Carrier) || string.IsNullOrWhiteSpace(request.TrackingNumber))
        {
            return TypedResults.Problem(detail: "carrier and trackingNumber are required", statusCode: 400);
        }

        var sent = await events.SendAsync(new ShipmentCreated(orderId, request.Carrier, request.TrackingNumber), cancellationToken);
        return TypedResults.Accepted($"/orders/{orderId}", new ShipmentAccepted(orderId, sent.Ids[0]));
    }

    private static Ok<Ledger> GetLedger(FakePaymentGateway payments, FakeWarehouse warehouse, FakeEmailSender email) =>
        TypedResults.Ok(new Ledger(
            payments.Charges,
            payments.Refunds,
            warehouse.Reservations,
            warehouse.Releases,
            email.Sent,
            payments.ChargeCalls,
            payments.RefundCalls,
            email.Calls));
}
