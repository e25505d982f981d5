using FunctionSdk;

namespace Onboarding.Leads;

/// <summary>Asks for a lead to be scored; starts <see cref="ScoreLead"/> (also the payload when it is invoked).</summary>
[EventName("users/lead.score-requested")]
public sealed record LeadScoreRequested(string UserId, string Email, string Company);

/// <summary>Asks for a lead to be qualified for sales; starts <see cref="QualifyLead"/>.</summary>
[EventName("users/lead.qualify-requested")]
public sealed record LeadQualifyRequested(string UserId, string Email, string Company);

/// <summary>What a run of <see cref="QualifyLead"/> returns; <paramref name="Reason"/> says why a lead could not be scored.</summary>
public sealed record Qualification(string UserId, int Score, bool Qualified, string? SalesRep, string? Reason = null);
