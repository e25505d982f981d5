using System.Collections.Concurrent;
using FunctionSdk;
using OrderFlow.Orders;

namespace OrderFlow.Warehouse;

/// <summary>Stock held for an order.</summary>
public sealed record Reservation(string ReservationId, string OrderId, IReadOnlyList<OrderLine> Lines);

/// <summary>The warehouse system, reduced to stock reservations.</summary>
public interface IWarehouse
{
    /// <summary>Holds stock for the order's lines; a second call with the same key returns the first reservation.</summary>
    Task<Reservation> ReserveAsync(string orderId, IReadOnlyList<OrderLine> lines, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>Gives a reservation's stock back; a second call with the same key does nothing.</summary>
    Task ReleaseAsync(string reservationId, string idempotencyKey, CancellationToken cancellationToken);
}

/// <summary>An item cannot be reserved; retrying will not help, so the step fails at once.</summary>
public sealed class OutOfStockException(string message) : NonRetriableException(message);

/// <summary>
/// An in-memory warehouse with a few products (<c>MUG-01</c>, <c>TSHIRT-M</c>, <c>POSTER-A2</c>) and one sold-out
/// product, <c>LAMP-01</c>. Logs every call and applies each effect once per idempotency key.
/// </summary>
public sealed partial class FakeWarehouse(ILogger<FakeWarehouse> logger) : IWarehouse
{
    public const string SoldOutSku = "LAMP-01";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _stock = new(StringComparer.Ordinal)
    {
        ["MUG-01"] = 500,
        ["TSHIRT-M"] = 200,
        ["POSTER-A2"] = 100,
        [SoldOutSku] = 0,
    };

    private readonly ConcurrentDictionary<string, Reservation> _reservations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _releases = new(StringComparer.Ordinal);

    /// <summary>Reservations made, by idempotency key.</summary>
    public IReadOnlyDictionary<string, Reservation> Reservations => _reservations;

    /// <summary>Released reservation ids, by idempotency key.</summary>
    public IReadOnlyDictionary<string, string> Releases => _releases;

    /// <summary>Units in stock of a product.</summary>
    public int InStock(string sku)
    {
        lock (_lock)
        {
            return _stock.GetValueOrDefault(sku);
        }
    }

    public Task<Reservation> ReserveAsync(string orderId, IReadOnlyList<OrderLine> lines, string idempotencyKey, CancellationToken cancellationToken)
    {
        LogReserve(logger, orderId, idempotencyKey);
        lock (_lock)
        {
            if (_reservations.TryGetValue(idempotencyKey, out var existing))
            {
                return Task.FromResult(existing);
            }

            foreach (var line in lines)
            {
                var left = _stock.GetValueOrDefault(line.Sku);
                if (left < line.Quantity)
                {
                    throw new OutOfStockException($"{line.Sku} is out of stock ({left} left, {line.Quantity} ordered).");
                }
            }

            foreach (var line in lines)
            {
                _stock[line.Sku] -= line.Quantity;
            }

            var reservation = new Reservation(Ids.FromKey("rsv_", idempotencyKey), orderId, lines);
            _reservations[idempotencyKey] = reservation;
            return Task.FromResult(reservation);
        }
    }

    public Task ReleaseAsync(string reservationId, string idempotencyKey, CancellationToken cancellationToken)
    {
        LogRelease(logger, reservationId, idempotencyKey);
        lock (_lock)
        {
            if (_releases.TryAdd(idempotencyKey, reservationId) &&
                _reservations.Values.FirstOrDefault(r => r.ReservationId == reservationId) is { } reservation)
            {
                foreach (var line in reservation.Lines)
                {
                    _stock[line.Sku] += line.Quantity;
                }
            }
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reserve stock for order {OrderId} (idempotency key {IdempotencyKey})")]
    private static partial void LogReserve(ILogger logger, string orderId, string idempotencyKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Release reservation {ReservationId} (idempotency key {IdempotencyKey})")]
    private static partial void LogRelease(ILogger logger, string reservationId, string idempotencyKey);
}
