using FunctionSdk;
using Microsoft.Extensions.Options;
using OrderFlow.Email;
using OrderFlow.Payments;
using OrderFlow.Warehouse;

namespace OrderFlow.Orders;

/// <summary>
/// The life of an order: charge the card, reserve the stock, wait for the warehouse to ship, wait for the parcel to
/// arrive, send the receipt. If the stock cannot be reserved the charge is refunded and the run fails; if the
/// shipment does not come in time the order is cancelled and refunded.
/// </summary>
/// <remarks>
/// Every side effect is a step keyed by its idempotency key, so a retried step (or a step run again after a crash)
/// charges, refunds and emails once. Settings are read outside steps: they are the same on every replay.
/// </remarks>
[DurableFunction("process-order", Name = "Process order", Retries = 3)]
public sealed class ProcessOrder(
    IPaymentGateway payments,
    IWarehouse warehouse,
    IEmailSender email,
    IOptions<OrderFlowOptions> options) : IDurableFunction<OrderPlaced>
{
    public async Task<object?> RunAsync(FunctionContext<OrderPlaced> context, CancellationToken cancellationToken)
    {
        var order = context.Event.Data;
        var settings = options.Value;

        var charge = await context.Step.RunAsync("charge-card", (step, ct) =>
            payments.ChargeAsync(order.OrderId, order.CardToken, order.Total, step.IdempotencyKey, ct));

        Reservation reservation;
        try
        {
            reservation = await context.Step.RunAsync("reserve-stock", (step, ct) =>
                warehouse.ReserveAsync(order.OrderId, order.Lines, step.IdempotencyKey, ct));
        }
        catch (StepFailedException failure)
        {
            // The card is charged but the order cannot be fulfilled: give the money back, tell the customer, and let
            // the run fail so the dashboard shows why.
            await RefundAsync(context, order, charge, $"we could not reserve your items ({failure.Message})");
            throw;
        }

        var shipment = await context.Step.WaitForEventAsync<ShipmentCreated>(
            "wait-for-shipment", settings.ShipmentTimeout, "async.data.orderId == event.data.orderId");
        if (shipment is null)
        {
            await context.Step.RunAsync("release-stock", (step, ct) => warehouse.ReleaseAsync(reservation.ReservationId, step.IdempotencyKey, ct));
            var refund = await RefundAsync(context, order, charge, "it was not shipped in time");
            await context.Step.SendEventAsync("announce-cancellation", new OrderCancelled(order.OrderId, "not shipped in time", refund.RefundId));
            return new OrderOutcome(order.OrderId, "cancelled", charge.ChargeId, null, refund.RefundId);
        }

        var tracking = shipment.Data.TrackingNumber;
        await context.Step.SleepAsync("wait-for-delivery", settings.DeliveryWait);
        await context.Step.RunAsync("email-receipt", (step, ct) => email.SendAsync(
            new EmailMessage(
                order.CustomerEmail,
                $"Your receipt for order {order.OrderId}",
                $"We charged {order.Total:0.00} to your card ({charge.ChargeId}). Your parcel travels with {shipment.Data.Carrier}, tracking number {tracking}."),
            step.IdempotencyKey,
            ct));
        await context.Step.SendEventAsync("announce-completion", new OrderCompleted(order.OrderId, charge.ChargeId, tracking));
        return new OrderOutcome(order.OrderId, "completed", charge.ChargeId, tracking, null);
    }

    private async Task<Refund> RefundAsync(FunctionContext<OrderPlaced> context, OrderPlaced order, Charge charge, string reason)
    {
        var refund = await context.Step.RunAsync("refund-charge", (step, ct) =>
            payments.RefundAsync(charge.ChargeId, charge.Amount, step.IdempotencyKey, ct));
        await context.Step.RunAsync("email-cancellation", (step, ct) => email.SendAsync(
            new EmailMessage(
                order.CustomerEmail,
                $"Order {order.OrderId} cancelled",
                $"We cancelled your order because {reason}. We refunded {charge.Amount:0.00} ({refund.RefundId})."),
            step.IdempotencyKey,
            ct));
        return refund;
    }
}
