namespace Onboarding.Users;

/// <summary>The timings of onboarding (section <c>Onboarding</c>); the tests shorten them to seconds.</summary>
public sealed class OnboardingOptions
{
    public const string SectionName = "Onboarding";

    /// <summary>How long to wait for the user to complete their profile before nudging them.</summary>
    public TimeSpan ProfileTimeout { get; set; } = TimeSpan.FromDays(3);

    /// <summary>The length of the free trial.</summary>
    public TimeSpan TrialLength { get; set; } = TimeSpan.FromDays(14);

    /// <summary>How long before the trial ends the reminder goes out.</summary>
    public TimeSpan TrialReminderLead { get; set; } = TimeSpan.FromDays(3);
}
