using FunctionSdk;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Onboarding.Billing;
using Onboarding.Email;
using Onboarding.Leads;
using Onboarding.Users;
using Onboarding.Workspaces;

namespace Onboarding;

/// <summary>What the app registers, shared by <c>Program.cs</c> and the tests (the test host registers the same).</summary>
public static class OnboardingRegistration
{
    /// <summary>The services the functions use: settings and the (fake) workspace, billing, CRM and mail services.</summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The app's configuration; the <c>Onboarding</c> section holds the timings.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddOnboardingServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OnboardingOptions>().Bind(configuration.GetSection(OnboardingOptions.SectionName)).ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<FakeWorkspaces>();
        services.AddSingleton<IWorkspaces>(sp => sp.GetRequiredService<FakeWorkspaces>());
        services.AddSingleton<FakeBilling>();
        services.AddSingleton<IBilling>(sp => sp.GetRequiredService<FakeBilling>());
        services.AddSingleton<FakeCrm>();
        services.AddSingleton<ICrm>(sp => sp.GetRequiredService<FakeCrm>());
        services.AddSingleton<FakeEmailSender>();
        services.AddSingleton<IEmailSender>(sp => sp.GetRequiredService<FakeEmailSender>());
        return services;
    }

    /// <summary>The app's durable functions.</summary>
    /// <param name="functions">The builder returned by <c>AddDurableFunctions</c>.</param>
    /// <param name="digestSchedule">
    /// The cron schedule of <see cref="TrialDigest"/> (<c>Onboarding:DigestSchedule</c>); <see cref="TrialDigest.DefaultSchedule"/>
    /// when null. Six fields put seconds first: the end-to-end test uses <c>*/2 * * * * *</c>.
    /// </param>
    /// <returns>The builder.</returns>
    public static DurableFunctionsBuilder AddOnboardingFunctions(this DurableFunctionsBuilder functions, string? digestSchedule = null) => functions
        .AddFunction<OnboardUser>()
        .AddFunction<ScoreLead>()
        .AddFunction<QualifyLead>()
        .AddFunction<TrialDigest>(o => o.OnCron(string.IsNullOrWhiteSpace(digestSchedule) ? TrialDigest.DefaultSchedule : digestSchedule));
}
