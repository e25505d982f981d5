using FunctionSdk;

namespace Onboarding.Leads;

/// <summary>Scores a lead from what the CRM knows about their company, and stores the score.</summary>
[DurableFunction("score-lead", Name = "Score lead", Retries = 2)]
public sealed class ScoreLead(ICrm crm) : IDurableFunction<LeadScoreRequested>
{
    public async Task<object?> RunAsync(FunctionContext<LeadScoreRequested> context, CancellationToken cancellationToken)
    {
        var lead = context.Event.Data;
        var company = await context.Step.RunAsync("look-up-company", ct => crm.LookUpCompanyAsync(lead.Company, ct));
        var score = Score(lead, company);
        await context.Step.RunAsync("save-score", (step, ct) => crm.SaveScoreAsync(score, step.IdempotencyKey, ct));
        return score;
    }

    /// <summary>Pure, so it runs outside a step: every replay computes the same score from the stored lookup.</summary>
    private static LeadScore Score(LeadScoreRequested lead, CompanyProfile company)
    {
        var size = company.Employees switch
        {
            >= 1000 => 50,
            >= 200 => 35,
            >= 50 => 20,
            _ => 5,
        };
        var industry = company.Industry is "software" or "finance" ? 30 : 15;
        var workEmail = lead.Email.EndsWith("@gmail.com", StringComparison.OrdinalIgnoreCase) ? 0 : 20;
        var score = Math.Min(100, size + industry + workEmail);
        return new LeadScore(lead.UserId, score, score >= 70 ? "enterprise" : score >= 40 ? "growth" : "self-serve");
    }
}
