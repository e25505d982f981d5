using FunctionSdk;
using Microsoft.Extensions.Options;
using Onboarding.Billing;
using Onboarding.Email;
using Onboarding.Leads;
using Onboarding.Workspaces;

namespace Onboarding.Users;

/// <summary>
/// Onboards a new user: sets up workspace, billing and the welcome email in parallel, asks for the lead to be scored,
/// gives the user time to complete their profile (and nudges them if they do not), then reminds them before the
/// trial ends.
/// </summary>
[DurableFunction("onboard-user", Name = "Onboard user", Retries = 3)]
public sealed class OnboardUser(
    IWorkspaces workspaces,
    IBilling billing,
    IEmailSender email,
    IOptions<OnboardingOptions> options) : IDurableFunction<UserSignedUp>
{
    public async Task<object?> RunAsync(FunctionContext<UserSignedUp> context, CancellationToken cancellationToken)
    {
        var user = context.Event.Data;
        var settings = options.Value;

        // Three independent steps, awaited together: the platform runs them in parallel, each with its own retries.
        var workspaceStep = context.Step.RunAsync("create-workspace", (step, ct) =>
            workspaces.CreateAsync(user.UserId, user.Company, step.IdempotencyKey, ct));
        var customerStep = context.Step.RunAsync("create-billing-customer", (step, ct) =>
            billing.CreateCustomerAsync(user.UserId, user.Email, user.Plan, settings.TrialLength, step.IdempotencyKey, ct));
        var welcomeStep = context.Step.RunAsync("send-welcome-email", (step, ct) => email.SendAsync(
            new EmailMessage(user.Email, $"Welcome, {user.Name}!", $"Your {user.Plan} trial has started. Here is how to get going..."),
            step.IdempotencyKey,
            ct));
        await Task.WhenAll(workspaceStep, customerStep, welcomeStep);
        var workspace = await workspaceStep;
        var customer = await customerStep;

        // Scoring runs as its own function (score-lead), started by this event.
        await context.Step.SendEventAsync("request-lead-score", new LeadScoreRequested(user.UserId, user.Email, user.Company));

        var profile = await context.Step.WaitForEventAsync<ProfileCompleted>(
            "wait-for-profile", settings.ProfileTimeout, "async.data.userId == event.data.userId");
        if (profile is null)
        {
            await context.Step.RunAsync("nudge-profile", (step, ct) => email.SendAsync(
                new EmailMessage(user.Email, "Finish setting up your profile", "Two more minutes and your workspace is ready for your team."),
                step.IdempotencyKey,
                ct));
        }

        await context.Step.SleepUntilAsync("wait-for-trial-reminder", customer.TrialEndsAt - settings.TrialReminderLead);
        await context.Step.RunAsync("email-trial-ending", (step, ct) => email.SendAsync(
            new EmailMessage(user.Email, "Your trial ends soon", $"Your trial of {workspace.Name} ends on {customer.TrialEndsAt:yyyy-MM-dd HH:mm} UTC."),
            step.IdempotencyKey,
            ct));

        return new OnboardingOutcome(user.UserId, workspace.WorkspaceId, customer.CustomerId, profile is not null, customer.TrialEndsAt);
    }
}
