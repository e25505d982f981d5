using FunctionSdk.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Onboarding;
using Onboarding.Billing;
using Onboarding.Email;
using Onboarding.Leads;
using Onboarding.Users;
using Onboarding.Workspaces;

namespace Examples.Tests.TestHost;

/// <summary>The Onboarding example's functions under the in-process test host, with its real (fake-backed) services.</summary>
public sealed class OnboardingTestHostTests : IAsyncLifetime
{
    private static readonly TimeSpan s_profileTimeout = TimeSpan.FromDays(3);
    private static readonly TimeSpan s_trialLength = TimeSpan.FromDays(14);
    private static readonly TimeSpan s_reminderLead = TimeSpan.FromDays(3);

    private DurableTestHost _host = null!;

    public Task InitializeAsync()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.AppId = "onboarding";
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Onboarding:ProfileTimeout"] = s_profileTimeout.ToString(),
            ["Onboarding:TrialLength"] = s_trialLength.ToString(),
            ["Onboarding:TrialReminderLead"] = s_reminderLead.ToString(),
        });
        builder.Services.AddOnboardingServices(builder.Configuration);
        builder.Functions.AddOnboardingFunctions();
        _host = builder.Build();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private FakeEmailSender Email => _host.Services.GetRequiredService<FakeEmailSender>();

    [Fact]
    public async Task OnboardUser_ProfileCompleted_ProvisionsInParallelScoresTheLeadAndRemindsBeforeTheTrialEnds()
    {
        var start = _host.UtcNow;
        var run = Assert.Single(await _host.SendAsync(SignUp("usr-1", "Globex")));
        Assert.Equal(TestRunStatus.Waiting, run.Status);
        Assert.Equal(
            ["create-workspace", "create-billing-customer", "send-welcome-email", "request-lead-score"],
            run.Steps.Select(s => s.Id));
        Assert.Equal(TestStepKind.SendEvent, run.GetStep("request-lead-score").Kind);
        // One discovery planning three steps, three step calls, one discovery that sends the event, one that waits.
        Assert.Equal(6, run.CallCount);

        var scoring = Assert.Single(_host.Runs, r => r.FunctionId == "score-lead");
        var score = scoring.GetOutput<LeadScore>()!;
        Assert.Equal(100, score.Score);
        Assert.Equal(score, Assert.Single(_host.Services.GetRequiredService<FakeCrm>().Scores).Value);

        await _host.SendAsync(new ProfileCompleted("usr-other", "CTO", 3));
        Assert.Equal(TestRunStatus.Waiting, run.Status);
        await _host.SendAsync(new ProfileCompleted("usr-1", "CTO", 12));

        var outcome = (await run.WaitForCompletionAsync()).GetOutput<OnboardingOutcome>()!;
        Assert.True(outcome.ProfileCompleted);
        Assert.Equal(start + s_trialLength, outcome.TrialEndsAt);
        Assert.Equal(outcome.TrialEndsAt - s_reminderLead, _host.UtcNow);
        Assert.Equal(TestStepKind.Sleep, run.GetStep("wait-for-trial-reminder").Kind);
        Assert.Equal(["Welcome, Ada!", "Your trial ends soon"], Email.Sent.Values.Select(e => e.Subject).Order());
        Assert.Equal(outcome.WorkspaceId, Assert.Single(_host.Services.GetRequiredService<FakeWorkspaces>().Created).Value.WorkspaceId);
    }

    [Fact]
    public async Task OnboardUser_ProfileNeverCompleted_NudgesAfterTheTimeout()
    {
        var run = Assert.Single(await _host.SendAsync(SignUp("usr-2", "Initech")));

        await _host.AdvanceTimeAsync(s_profileTimeout);

        var outcome = run.GetOutput<OnboardingOutcome>()!;
        Assert.False(outcome.ProfileCompleted);
        Assert.Null(run.GetStep("wait-for-profile").Output);
        Assert.Contains(Email.Sent.Values, e => e.Subject == "Finish setting up your profile");
        Assert.Contains(Email.Sent.Values, e => e.Subject == "Your trial ends soon");
    }

    [Fact]
    public async Task QualifyLead_InvokesScoreLead_AssignsASalesRepOnlyToAGoodLead()
    {
        var good = Assert.Single(await _host.SendAsync(new LeadQualifyRequested("usr-3", "grace@globex.example", "Globex")));
        var poor = Assert.Single(await _host.SendAsync(new LeadQualifyRequested("usr-4", "bob@gmail.com", "Initech")));

        var qualified = good.GetOutput<Qualification>()!;
        Assert.True(qualified.Qualified);
        Assert.Equal(100, qualified.Score);
        Assert.NotNull(qualified.SalesRep);
        Assert.Equal(TestStepKind.Invoke, good.GetStep("score-lead").Kind);
        var notQualified = poor.GetOutput<Qualification>()!;
        Assert.False(notQualified.Qualified);
        Assert.Equal(50, notQualified.Score);
        Assert.Null(notQualified.SalesRep);

        var invoked = _host.Runs.Where(r => r.FunctionId == "score-lead").ToList();
        Assert.Equal(2, invoked.Count);
        Assert.All(invoked, r => Assert.Equal("inngest/function.invoked", r.Event.Name));
        Assert.Single(_host.Services.GetRequiredService<FakeCrm>().Assignments);
    }

    [Fact]
    public async Task QualifyLead_InvokedScoringFailsForGood_CatchesTheErrorAndDoesNotQualify()
    {
        var run = Assert.Single(await _host.SendAsync(new LeadQualifyRequested("usr-8", "kim@nowhere.example", FakeCrm.UnknownCompany)));

        Assert.Equal(TestRunStatus.Completed, run.Status);
        var qualification = run.GetOutput<Qualification>()!;
        Assert.Equal(("usr-8", 0, false, null), (qualification.UserId, qualification.Score, qualification.Qualified, qualification.SalesRep));
        Assert.Equal($"NonRetriableError: The CRM has no record of the company {FakeCrm.UnknownCompany}.", qualification.Reason);
        var child = Assert.Single(_host.Runs, r => r.FunctionId == "score-lead" && r.Status == TestRunStatus.Failed);
        Assert.Equal("inngest/function.invoked", child.Event.Name);
        Assert.Empty(_host.Services.GetRequiredService<FakeCrm>().Assignments);
    }

    [Fact]
    public async Task TrialDigest_CronFires_EmailsEveryUserOnATrialInParallel()
    {
        await _host.SendAsync(SignUp("usr-5", "Hooli"));
        await _host.SendAsync(SignUp("usr-6", "Contoso"));
        await _host.SendAsync(new ProfileCompleted("usr-5", "CEO", 4));
        await _host.SendAsync(new ProfileCompleted("usr-6", "CFO", 9));
        Assert.All(_host.Runs.Where(r => r.FunctionId == "onboard-user"), r => Assert.Equal(TestRunStatus.Completed, r.Status));

        var digest = await _host.TriggerCronAsync("trial-digest");

        Assert.Equal(2, digest.GetOutput<System.Text.Json.JsonElement>().GetProperty("emailed").GetInt32());
        Assert.Equal(["list-active-trials", "email-digest", "email-digest:1"], digest.Steps.Select(s => s.Id));
        Assert.Equal(2, Email.Sent.Values.Count(e => e.Subject == "Your daily digest"));
        Assert.Equal("inngest/scheduled.timer", digest.Event.Name);
    }

    [Fact]
    public async Task OnboardUser_StepsRetriedOnTheirOwn_EachSideEffectHappensOnce()
    {
        var builder = DurableTestHost.CreateBuilder();
        builder.AppId = "onboarding";
        builder.Services.AddOnboardingServices(builder.Configuration);
        builder.Services.AddSingleton<IBilling, FlakyBilling>();
        builder.Functions.AddOnboardingFunctions();
        await using var host = builder.Build();

        var run = Assert.Single(await host.SendAsync(SignUp("usr-7", "Northwind")));

        Assert.Equal(2, run.GetStep("create-billing-customer").Attempts);
        Assert.Equal(1, run.GetStep("create-workspace").Attempts);
        Assert.Equal(1, host.Services.GetRequiredService<FakeWorkspaces>().Calls);
        Assert.Single(host.Services.GetRequiredService<FakeEmailSender>().Sent);
    }

    private static UserSignedUp SignUp(string userId, string company) =>
        new(userId, $"ada@{company.ToLowerInvariant()}.example", "Ada", company, "team");

    /// <summary>Billing whose first call fails, as a provider answering 503 would.</summary>
    private sealed class FlakyBilling(FakeBilling inner) : IBilling
    {
        private int _calls;

        public Task<BillingCustomer> CreateCustomerAsync(
            string userId, string email, string plan, TimeSpan trialLength, string idempotencyKey, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _calls) == 1
                ? throw new HttpRequestException("503 Service Unavailable")
                : inner.CreateCustomerAsync(userId, email, plan, trialLength, idempotencyKey, cancellationToken);

        public Task<IReadOnlyList<BillingCustomer>> ActiveTrialsAsync(CancellationToken cancellationToken) =>
            inner.ActiveTrialsAsync(cancellationToken);
    }
}
