using System.Text.Json;
using FunctionSdk;
using Onboarding.Email;

namespace Onboarding.Billing;

/// <summary>
/// Every morning at 9:00 UTC, emails each user on a trial a digest of what their team did. A cron function: the
/// platform starts a run (event <c>inngest/scheduled.timer</c>) on every tick of the schedule, which
/// <see cref="OnboardingRegistration.AddOnboardingFunctions"/> takes from <c>Onboarding:DigestSchedule</c>.
/// </summary>
[DurableFunction("trial-digest", Name = "Daily trial digest")]
public sealed class TrialDigest(IBilling billing, IEmailSender email) : IDurableFunction<JsonElement>
{
    /// <summary>The schedule unless configured: every day at 9:00 UTC.</summary>
    public const string DefaultSchedule = "0 9 * * *";

    public async Task<object?> RunAsync(FunctionContext<JsonElement> context, CancellationToken cancellationToken)
    {
        var trials = await context.Step.RunAsync("list-active-trials", ct => billing.ActiveTrialsAsync(ct));

        // One step per user, all in parallel; the repeated id becomes email-digest, email-digest:1, ...
        await Task.WhenAll(trials.Select(trial => context.Step.RunAsync("email-digest", (step, ct) => email.SendAsync(
            new EmailMessage(trial.Email, "Your daily digest", $"Your trial runs until {trial.TrialEndsAt:yyyy-MM-dd}. Here is what happened yesterday..."),
            step.IdempotencyKey,
            ct))));
        return new { emailed = trials.Count };
    }
}
