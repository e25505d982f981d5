using FunctionSdk;

namespace OrderFlow.Orders;

/// <summary>
/// The failure handler of <see cref="ProcessOrder"/> (its <c>onFailure</c>): runs as the function
/// <c>process-order-failure</c> once a run failed for good, a declined card or a sold-out item say, and records the
/// order for support and announces <c>shop/order.failed</c>. ProcessOrder has already refunded what it could.
/// </summary>
public sealed class ProcessOrderFailed(IFailedOrders failedOrders) : IFailureHandler<OrderPlaced>
{
    public async Task RunAsync(FailureContext<OrderPlaced> failure, CancellationToken cancellationToken)
    {
        var order = failure.Event.Data;
        var error = $"{failure.Error.Name}: {failure.Error.Message}";
        await failure.Step.RunAsync("record-failure", (step, ct) => failedOrders.RecordAsync(
            new FailedOrder(order.OrderId, order.CustomerEmail, failure.FailedRunId, failure.Error.Name, failure.Error.Message),
            step.IdempotencyKey,
            ct));
        await failure.Step.SendEventAsync("announce-failure", new OrderFailed(order.OrderId, failure.FailedRunId, error));
    }
}
