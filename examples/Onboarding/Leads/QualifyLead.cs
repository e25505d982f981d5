using FunctionSdk;

namespace Onboarding.Leads;

/// <summary>
/// Qualifies a lead for sales: invokes <see cref="ScoreLead"/> and waits for its result, then assigns a sales rep to
/// a good lead. Invoke needs the platform's side of <c>InvokeFunction</c> (see the README); the rest of the app
/// does not depend on this function.
/// </summary>
[DurableFunction("qualify-lead", Name = "Qualify lead", Retries = 2)]
public sealed class QualifyLead(ICrm crm) : IDurableFunction<LeadQualifyRequested>
{
    public const int QualifyingScore = 70;

    public async Task<object?> RunAsync(FunctionContext<LeadQualifyRequested> context, CancellationToken cancellationToken)
    {
        var lead = context.Event.Data;
        var score = await context.Step.InvokeAsync<LeadScore>(
            "score-lead", "score-lead", new LeadScoreRequested(lead.UserId, lead.Email, lead.Company), TimeSpan.FromMinutes(10));
        if (score.Score < QualifyingScore)
        {
            return new Qualification(lead.UserId, score.Score, Qualified: false, SalesRep: null);
        }

        var rep = await context.Step.RunAsync("assign-sales-rep", (step, ct) => crm.AssignSalesRepAsync(lead.UserId, step.IdempotencyKey, ct));
        return new Qualification(lead.UserId, score.Score, Qualified: true, rep);
    }
}
