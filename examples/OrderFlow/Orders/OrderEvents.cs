using FunctionSdk;

namespace OrderFlow.Orders;

/// <summary>A line of an order.</summary>
public sealed record OrderLine(string Sku, int Quantity, decimal UnitPrice);

/// <summary>A customer placed an order; starts <see cref="ProcessOrder"/>.</summary>
[EventName("shop/order.placed")]
public sealed record OrderPlaced(string OrderId, string CustomerEmail, string CardToken, IReadOnlyList<OrderLine> Lines)
{
    public decimal Total => Lines.Sum(l => l.Quantity * l.UnitPrice);
}

/// <summary>The warehouse shipped an order (its webhook, or <c>POST /orders/{id}/shipments</c>).</summary>
[EventName("shop/shipment.created")]
public sealed record ShipmentCreated(string OrderId, string Carrier, string TrackingNumber);

/// <summary>Sent by <see cref="ProcessOrder"/> when the order is done (for analytics, loyalty points, ...).</summary>
[EventName("shop/order.completed")]
public sealed record OrderCompleted(string OrderId, string ChargeId, string TrackingNumber);

/// <summary>Sent by <see cref="ProcessOrder"/> when the order was cancelled and refunded.</summary>
[EventName("shop/order.cancelled")]
public sealed record OrderCancelled(string OrderId, string Reason, string RefundId);

/// <summary>What a run of <see cref="ProcessOrder"/> returns.</summary>
public sealed record OrderOutcome(string OrderId, string Status, string ChargeId, string? TrackingNumber, string? RefundId);

/// <summary>Sent by <see cref="ProcessOrderFailed"/> once a run of <see cref="ProcessOrder"/> failed for good.</summary>
[EventName("shop/order.failed")]
public sealed record OrderFailed(string OrderId, string RunId, string Error);
