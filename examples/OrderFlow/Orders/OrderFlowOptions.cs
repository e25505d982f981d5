namespace OrderFlow.Orders;

/// <summary>The timings of the order flow (section <c>OrderFlow</c>); the tests shorten them to seconds.</summary>
public sealed class OrderFlowOptions
{
    public const string SectionName = "OrderFlow";

    /// <summary>How long to wait for the warehouse to create the shipment before cancelling and refunding.</summary>
    public TimeSpan ShipmentTimeout { get; set; } = TimeSpan.FromDays(3);

    /// <summary>How long after shipping the receipt goes out (when the parcel has usually arrived).</summary>
    public TimeSpan DeliveryWait { get; set; } = TimeSpan.FromDays(2);
}
