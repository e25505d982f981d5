using System.Collections.Concurrent;
using FunctionSdk;

namespace OrderFlow.Payments;

/// <summary>A successful charge.</summary>
public sealed record Charge(string ChargeId, string OrderId, decimal Amount);

/// <summary>A refund of a charge.</summary>
public sealed record Refund(string RefundId, string ChargeId, decimal Amount);

/// <summary>A card payment provider (Stripe, Adyen, ...), reduced to what the order flow needs.</summary>
public interface IPaymentGateway
{
    /// <summary>Charges a card; a second call with the same <paramref name="idempotencyKey"/> returns the first charge.</summary>
    Task<Charge> ChargeAsync(string orderId, string cardToken, decimal amount, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>Refunds a charge; a second call with the same <paramref name="idempotencyKey"/> returns the first refund.</summary>
    Task<Refund> RefundAsync(string chargeId, decimal amount, string idempotencyKey, CancellationToken cancellationToken);
}

/// <summary>The gateway timed out or answered 5xx: worth retrying.</summary>
public sealed class PaymentGatewayUnavailableException(string message) : Exception(message);

/// <summary>
/// An in-memory payment gateway that behaves like the real ones on idempotency keys: it logs every call and records
/// each effect once per key. Test cards, as in Stripe's test mode: <c>tok_declined</c> is declined (not retried),
/// <c>tok_flaky</c> times out on the first call of each key, any other token is charged.
/// </summary>
public sealed partial class FakePaymentGateway(ILogger<FakePaymentGateway> logger) : IPaymentGateway
{
    public const string DeclinedCard = "tok_declined";
    public const string FlakyCard = "tok_flaky";

    private readonly ConcurrentDictionary<string, Charge> _charges = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Refund> _refunds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _chargeCalls = new(StringComparer.Ordinal);
    private int _refundCalls;

    /// <summary>Charges made, by idempotency key.</summary>
    public IReadOnlyDictionary<string, Charge> Charges => _charges;

    /// <summary>Refunds made, by idempotency key.</summary>
    public IReadOnlyDictionary<string, Refund> Refunds => _refunds;

    /// <summary>Calls of <see cref="ChargeAsync"/>, including failed and repeated ones.</summary>
    public int ChargeCalls => _chargeCalls.Values.Sum();

    /// <summary>Calls of <see cref="RefundAsync"/>, including repeated ones.</summary>
    public int RefundCalls => Volatile.Read(ref _refundCalls);

    public Task<Charge> ChargeAsync(string orderId, string cardToken, decimal amount, string idempotencyKey, CancellationToken cancellationToken)
    {
        var call = _chargeCalls.AddOrUpdate(idempotencyKey, 1, (_, n) => n + 1);
        LogChargeCall(logger, orderId, amount, idempotencyKey, call);
        if (cardToken == DeclinedCard)
        {
            throw new NonRetriableException($"The card of order {orderId} was declined.");
        }

        if (cardToken == FlakyCard && call == 1)
        {
            throw new PaymentGatewayUnavailableException("The payment gateway timed out; try again.");
        }

        var charge = _charges.GetOrAdd(idempotencyKey, key => new Charge(Ids.FromKey("ch_", key), orderId, amount));
        return Task.FromResult(charge);
    }

    public Task<Refund> RefundAsync(string chargeId, decimal amount, string idempotencyKey, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _refundCalls);
        LogRefund(logger, chargeId, amount, idempotencyKey);
        return Task.FromResult(_refunds.GetOrAdd(idempotencyKey, key => new Refund(Ids.FromKey("re_", key), chargeId, amount)));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Charge {Amount} for order {OrderId} (idempotency key {IdempotencyKey}, call {Call})")]
    private static partial void LogChargeCall(ILogger logger, string orderId, decimal amount, string idempotencyKey, int call);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refund {Amount} of charge {ChargeId} (idempotency key {IdempotencyKey})")]
    private static partial void LogRefund(ILogger logger, string chargeId, decimal amount, string idempotencyKey);
}
