using System.Collections.Concurrent;

namespace Onboarding.Billing;

/// <summary>A customer of the billing provider, on a free trial.</summary>
public sealed record BillingCustomer(string CustomerId, string UserId, string Email, string Plan, DateTimeOffset TrialEndsAt);

/// <summary>The billing provider (Stripe Billing, Chargebee, ...).</summary>
public interface IBilling
{
    /// <summary>Creates a customer on a trial of <paramref name="trialLength"/>; a second call with the same key returns the first customer.</summary>
    Task<BillingCustomer> CreateCustomerAsync(string userId, string email, string plan, TimeSpan trialLength, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>The customers whose trial has not ended.</summary>
    Task<IReadOnlyList<BillingCustomer>> ActiveTrialsAsync(CancellationToken cancellationToken);
}

/// <summary>Billing in memory: logs every call, one customer per idempotency key, trial ends read from the clock.</summary>
public sealed partial class FakeBilling(TimeProvider time, ILogger<FakeBilling> logger) : IBilling
{
    private readonly ConcurrentDictionary<string, BillingCustomer> _customers = new(StringComparer.Ordinal);
    private int _calls;

    /// <summary>Customers created, by idempotency key.</summary>
    public IReadOnlyDictionary<string, BillingCustomer> Customers => _customers;

    /// <summary>Calls of <see cref="CreateCustomerAsync"/>, including repeated ones.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public Task<BillingCustomer> CreateCustomerAsync(
        string userId, string email, string plan, TimeSpan trialLength, string idempotencyKey, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        LogCreate(logger, userId, plan, idempotencyKey);
        return Task.FromResult(_customers.GetOrAdd(idempotencyKey, key =>
            new BillingCustomer(Ids.FromKey("cus_", key), userId, email, plan, time.GetUtcNow() + trialLength)));
    }

    public Task<IReadOnlyList<BillingCustomer>> ActiveTrialsAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        IReadOnlyList<BillingCustomer> active = _customers.Values.Where(c => c.TrialEndsAt > now).OrderBy(c => c.UserId, StringComparer.Ordinal).ToList();
        return Task.FromResult(active);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Create billing customer for user {UserId} on plan {Plan} (idempotency key {IdempotencyKey})")]
    private static partial void LogCreate(ILogger logger, string userId, string plan, string idempotencyKey);
}
