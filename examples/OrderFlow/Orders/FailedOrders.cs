using System.Collections.Concurrent;

namespace OrderFlow.Orders;

/// <summary>An order whose run failed for good, for the support team to follow up.</summary>
public sealed record FailedOrder(string OrderId, string CustomerEmail, string RunId, string ErrorName, string ErrorMessage);

/// <summary>Where failed orders are recorded (a support queue, a ticketing system, ...).</summary>
public interface IFailedOrders
{
    /// <summary>Records a failed order; a second call with the same key changes nothing.</summary>
    Task RecordAsync(FailedOrder order, string idempotencyKey, CancellationToken cancellationToken);
}

/// <summary>The support queue in memory, one entry per idempotency key.</summary>
public sealed partial class FakeFailedOrders(ILogger<FakeFailedOrders> logger) : IFailedOrders
{
    private readonly ConcurrentDictionary<string, FailedOrder> _orders = new(StringComparer.Ordinal);

    /// <summary>Failed orders recorded, by idempotency key.</summary>
    public IReadOnlyDictionary<string, FailedOrder> Orders => _orders;

    public Task RecordAsync(FailedOrder order, string idempotencyKey, CancellationToken cancellationToken)
    {
        if (_orders.TryAdd(idempotencyKey, order))
        {
            LogRecorded(logger, order.OrderId, order.ErrorName, order.ErrorMessage);
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Order {OrderId} failed: {ErrorName}: {ErrorMessage}")]
    private static partial void LogRecorded(ILogger logger, string orderId, string errorName, string errorMessage);
}
