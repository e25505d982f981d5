using FunctionSdk;

namespace Onboarding.Leads;

/// <summary>
/// Qualifies a lead for sales: invokes <see cref="ScoreLead"/> and waits for its result, then assigns a sales rep to
/// a good lead. If the scoring run fails for good (the CRM does not know the company), the invoke step throws
/// <see cref="StepFailedException"/> and the lead is not qualified, with the reason.
/// </summary>
[DurableFunction("qualify-lead", Name = "Qualify lead", Retries = 2)]
public sealed class QualifyLead(ICrm crm) : IDurableFunction<LeadQualifyRequested>
{
    public const int QualifyingScore = 70;

    public async Task<object?> RunAsync(FunctionContext<LeadQualifyRequested> context, CancellationToken cancellationToken)
    {
        var lead = context.Event.Data;
        LeadScore score;
        try
        {
            score = await context.Step.InvokeAsync<LeadScore>(
                "score-lead", "score-lead", new LeadScoreRequested(lead.UserId, lead.Email, lead.Company), TimeSpan.FromMinutes(10));
        }
        catch (StepFailedException failure)
        {
            return new Qualification(lead.UserId, 0, Qualified: false, SalesRep: null, Reason: $"{failure.ErrorName}: {failure.Message}");
        }

        if (score.Score < QualifyingScore)
        {
            return new Qualification(lead.UserId, score.Score, Qualified: false, SalesRep: null);
        }

        var rep = await context.Step.RunAsync("assign-sales-rep", (step, ct) => crm.AssignSalesRepAsync(lead.UserId, step.IdempotencyKey, ct));
        return new Qualification(lead.UserId, score.Score, Qualified: true, rep);
    }
}
