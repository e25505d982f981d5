using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Examples.Tests.Infrastructure;
using Onboarding.Billing;
using Onboarding.Email;
using Onboarding.Leads;
using Onboarding.Users;
using Platform.Executor.Queries;

namespace Examples.Tests.EndToEnd;

/// <summary>The platform and the Onboarding app, both in process on loopback ports, the app synced on start.</summary>
public sealed class OnboardingFixture : IAsyncLifetime
{
    public PlatformHost Platform { get; private set; } = null!;

    public ExampleApp<OnboardUser> App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Platform = await PlatformHost.StartAsync("onboarding");
        App = await ExampleApp<OnboardUser>.StartAsync(Platform, "onboarding", new Dictionary<string, string?>
        {
            ["Onboarding:ProfileTimeout"] = "00:01:00",
            ["Onboarding:TrialLength"] = "00:00:06",
            ["Onboarding:TrialReminderLead"] = "00:00:02",
        });
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Platform.DisposeAsync();
    }
}

/// <summary>
/// Onboarding end to end: parallel steps, a step.sendEvent that starts another function, a matched wait, a
/// SleepUntil, and the cron function registered with the platform.
/// </summary>
public sealed class OnboardingEndToEndTests(OnboardingFixture fixture, ITestOutputHelper output) : IClassFixture<OnboardingFixture>
{
    private PlatformHost Platform => fixture.Platform;

    private ExampleApp<OnboardUser> App => fixture.App;

    [Fact]
    public async Task SignUp_ProfileCompleted_RunsParallelStepsStartsScoringAndSleepsUntilTheReminder()
    {
        using var response = await App.Http.PostAsJsonAsync("/signups", new { email = "ada@globex.example", name = "Ada", company = "Globex" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = (await response.Content.ReadFromJsonAsync<UserApi.EventAccepted>())!;
        var runId = await Platform.RunOfEventAsync(accepted.EventId, "onboarding-onboard-user");
        await Platform.WaitForStatusAsync(runId, "Waiting");

        using var profile = await App.Http.PostAsJsonAsync($"/users/{accepted.UserId}/profile", new { jobTitle = "CTO", teamSize = 12 });
        Assert.Equal(HttpStatusCode.Accepted, profile.StatusCode);
        var run = await Platform.WaitForStatusAsync(runId, "Completed");
        output.WriteLine($"onboard-user run {runId}: {(run.EndedAt - run.CreatedAt)?.TotalSeconds:0.00} s from sign-up to completion (trial 6 s, reminder 2 s before its end)");

        Assert.Equal(
            new[] { "create-workspace", "create-billing-customer", "send-welcome-email" }.Select(StepIds.Hash).Order(),
            run.Steps.Take(3).Select(s => s.StepId).Order());
        Assert.Equal(
            new[] { "request-lead-score", "wait-for-profile", "wait-for-trial-reminder", "email-trial-ending" }.Select(StepIds.Hash),
            run.Steps.Skip(3).Select(s => s.StepId));
        Assert.Equal(["StepRun", "WaitForEvent", "Sleep", "StepRun"], run.Steps.Skip(3).Select(s => s.Op));
        Assert.True(run.Output!.Value.GetProperty("profileCompleted").GetBoolean());

        // The reminder waited for the trial's end minus the lead time, as computed by the billing step.
        var customer = Assert.Single(App.Get<FakeBilling>().Customers).Value;
        var reminder = run.Steps.Single(s => s.StepId == StepIds.Hash("wait-for-trial-reminder"));
        Assert.True(reminder.CompletedAt >= customer.TrialEndsAt - TimeSpan.FromSeconds(2));
        Assert.Equal(
            ["Welcome, Ada!", "Your trial ends soon"],
            App.Get<FakeEmailSender>().Sent.Values.Select(e => e.Subject).Order());

        // The sendEvent step started score-lead, which completed with the score it stored.
        var scoreEvent = run.Steps.Single(s => s.StepId == StepIds.Hash("request-lead-score")).Output!.Value.GetProperty("ids")[0].GetString()!;
        var scoringRunId = await Platform.RunOfEventAsync(scoreEvent, "onboarding-score-lead");
        var scoring = await Platform.WaitForStatusAsync(scoringRunId, "Completed");
        Assert.Equal(100, scoring.Output!.Value.GetProperty("score").GetInt32());
        Assert.Equal(100, Assert.Single(App.Get<FakeCrm>().Scores.Values, s => s.UserId == accepted.UserId).Score);
    }

    [Fact]
    public async Task QualifyLead_InvokesScoreLeadOnThePlatform_CompletesWithTheChildsResult()
    {
        using var response = await App.Http.PostAsJsonAsync("/users/usr_e2e_q/qualify", new { email = "grace@globex.example", company = "Globex" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = (await response.Content.ReadFromJsonAsync<UserApi.EventAccepted>())!;
        var runId = await Platform.RunOfEventAsync(accepted.EventId, "onboarding-qualify-lead");

        var run = await Platform.WaitForStatusAsync(runId, "Completed");

        var invoke = run.Steps.Single(s => s.StepId == StepIds.Hash("score-lead"));
        Assert.Equal(("InvokeFunction", "Completed"), (invoke.Op, invoke.Status));
        var qualification = run.Output!.Value.Deserialize<Qualification>(JsonSerializerOptions.Web)!;
        Assert.Equal(("usr_e2e_q", 100, true), (qualification.UserId, qualification.Score, qualification.Qualified));
        Assert.Equal(App.Get<FakeCrm>().Assignments[run.Steps.Single(s => s.StepId == StepIds.Hash("assign-sales-rep")).IdempotencyKey], qualification.SalesRep);

        // The child is a run of score-lead started by inngest/function.invoked; its output is the invoke step's.
        var children = await Eventually.WaitAsync(
            () => Platform.RunsOfFunctionAsync("onboarding-score-lead"),
            runs => runs.Any(r => r.EventName == "inngest/function.invoked" && r.Status == "Completed"),
            "the invoked score-lead run");
        var child = await Platform.GetRunAsync(Assert.Single(children, r => r.EventName == "inngest/function.invoked" && r.Status == "Completed").Id);
        Assert.Equal("usr_e2e_q", child.Event.Data.GetProperty("userId").GetString());
        Assert.Equal(child.Output!.Value.GetRawText(), invoke.Output!.Value.GetRawText());
        Assert.Contains(App.Get<FakeCrm>().Scores.Values, s => s.UserId == "usr_e2e_q" && s.Score == 100);
        output.WriteLine($"qualify-lead run {runId}: {(run.EndedAt - run.CreatedAt)?.TotalSeconds:0.00} s including the invoked score-lead run {child.Id}");
    }

    [Fact]
    public async Task QualifyLead_InvokedRunFailsOnThePlatform_FunctionCatchesTheErrorAndCompletes()
    {
        using var response = await App.Http.PostAsJsonAsync("/users/usr_e2e_unknown/qualify", new { email = "kim@nowhere.example", company = FakeCrm.UnknownCompany });
        var accepted = (await response.Content.ReadFromJsonAsync<UserApi.EventAccepted>())!;
        var runId = await Platform.RunOfEventAsync(accepted.EventId, "onboarding-qualify-lead");

        var run = await Platform.WaitForStatusAsync(runId, "Completed");

        var invoke = run.Steps.Single(s => s.StepId == StepIds.Hash("score-lead"));
        Assert.Equal("InvokeFunction", invoke.Op);
        var qualification = run.Output!.Value.Deserialize<Qualification>(JsonSerializerOptions.Web)!;
        Assert.Equal(("usr_e2e_unknown", 0, false, null), (qualification.UserId, qualification.Score, qualification.Qualified, qualification.SalesRep));
        Assert.Equal($"NonRetriableError: The CRM has no record of the company {FakeCrm.UnknownCompany}.", qualification.Reason);
        var children = await Platform.RunsOfFunctionAsync("onboarding-score-lead");
        var child = await Platform.GetRunAsync(Assert.Single(children, r => r.Status == "Failed").Id);
        Assert.Equal(("inngest/function.invoked", "usr_e2e_unknown"), (child.Event.Name, child.Event.Data.GetProperty("userId").GetString()));
        Assert.Equal("NonRetriableError", child.Error!.Value.GetProperty("name").GetString());
        Assert.DoesNotContain(run.Steps, s => s.StepId == StepIds.Hash("assign-sales-rep"));
    }

    [Fact]
    public async Task Sync_RegistersEveryFunctionWithItsTriggers()
    {
        var functions = (await Platform.Http.GetFromJsonAsync<List<FunctionDto>>("/api/v1/functions?app=onboarding"))!;

        Assert.Equal(
            ["onboarding-onboard-user", "onboarding-qualify-lead", "onboarding-score-lead", "onboarding-trial-digest"],
            functions.Select(f => f.Slug).Order());
        var digest = functions.Single(f => f.Slug == "onboarding-trial-digest");
        Assert.Equal("0 9 * * *", digest.Triggers[0].GetProperty("cron").GetString());
        Assert.Equal(3, functions.Single(f => f.Slug == "onboarding-onboard-user").Retries);
    }
}
