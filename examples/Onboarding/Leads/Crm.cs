using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using FunctionSdk;

namespace Onboarding.Leads;

/// <summary>What the enrichment provider knows about a company.</summary>
public sealed record CompanyProfile(string Name, int Employees, string Industry);

/// <summary>A lead's score, 0 to 100.</summary>
public sealed record LeadScore(string UserId, int Score, string Segment);

/// <summary>The CRM (HubSpot, Salesforce, ...) with its company enrichment.</summary>
public interface ICrm
{
    /// <summary>Looks the company up (read only, safe to repeat).</summary>
    Task<CompanyProfile> LookUpCompanyAsync(string company, CancellationToken cancellationToken);

    /// <summary>Stores the lead's score; a second call with the same key changes nothing.</summary>
    Task SaveScoreAsync(LeadScore score, string idempotencyKey, CancellationToken cancellationToken);

    /// <summary>Assigns a sales rep to the lead; a second call with the same key returns the first rep.</summary>
    Task<string> AssignSalesRepAsync(string userId, string idempotencyKey, CancellationToken cancellationToken);
}

/// <summary>
/// A CRM in memory. The enrichment is made up but stable: a company's size and industry follow from its name.
/// Logs every call and applies each write once per idempotency key. The enrichment knows every company but
/// <see cref="UnknownCompany"/>, for which the lookup fails for good (a retry would not find it either).
/// </summary>
public sealed partial class FakeCrm(ILogger<FakeCrm> logger) : ICrm
{
    /// <summary>The company the enrichment provider has no record of.</summary>
    public const string UnknownCompany = "Nowhere Ltd";

    private static readonly string[] s_industries = ["software", "retail", "logistics", "finance", "healthcare"];
    private static readonly string[] s_reps = ["Ada", "Grace", "Linus", "Barbara"];

    private readonly ConcurrentDictionary<string, LeadScore> _scores = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _assignments = new(StringComparer.Ordinal);

    /// <summary>Scores saved, by idempotency key.</summary>
    public IReadOnlyDictionary<string, LeadScore> Scores => _scores;

    /// <summary>Sales reps assigned, by idempotency key.</summary>
    public IReadOnlyDictionary<string, string> Assignments => _assignments;

    public Task<CompanyProfile> LookUpCompanyAsync(string company, CancellationToken cancellationToken)
    {
        if (string.Equals(company.Trim(), UnknownCompany, StringComparison.OrdinalIgnoreCase))
        {
            throw new NonRetriableException($"The CRM has no record of the company {company}.");
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(company.Trim().ToLowerInvariant()));
        var employees = 5 + (BitConverter.ToUInt16(hash, 0) % 2000);
        LogLookUp(logger, company);
        return Task.FromResult(new CompanyProfile(company, employees, s_industries[hash[2] % s_industries.Length]));
    }

    public Task SaveScoreAsync(LeadScore score, string idempotencyKey, CancellationToken cancellationToken)
    {
        if (_scores.TryAdd(idempotencyKey, score))
        {
            LogScore(logger, score.UserId, score.Score, idempotencyKey);
        }

        return Task.CompletedTask;
    }

    public Task<string> AssignSalesRepAsync(string userId, string idempotencyKey, CancellationToken cancellationToken)
    {
        var rep = _assignments.GetOrAdd(idempotencyKey, key => s_reps[SHA256.HashData(Encoding.UTF8.GetBytes(key))[0] % s_reps.Length]);
        LogAssign(logger, userId, rep, idempotencyKey);
        return Task.FromResult(rep);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Look up company {Company}")]
    private static partial void LogLookUp(ILogger logger, string company);

    [LoggerMessage(Level = LogLevel.Information, Message = "Save score {Score} for user {UserId} (idempotency key {IdempotencyKey})")]
    private static partial void LogScore(ILogger logger, string userId, int score, string idempotencyKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Assign {Rep} to user {UserId} (idempotency key {IdempotencyKey})")]
    private static partial void LogAssign(ILogger logger, string userId, string rep, string idempotencyKey);
}
