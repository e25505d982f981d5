using System.Net;
using System.Net.Http.Json;
using Examples.Tests.Infrastructure;
using Onboarding.Billing;
using Onboarding.Email;
using Onboarding.Users;

namespace Examples.Tests.EndToEnd;

/// <summary>
/// The Onboarding app with <c>trial-digest</c> on a two-second schedule (<c>Onboarding:DigestSchedule</c>, six fields,
/// seconds first): the platform's cron scheduler starts its runs, one per tick, without any event sent.
/// </summary>
public sealed class OnboardingCronTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Schedule = "*/2 * * * * *";

    private PlatformHost _platform = null!;
    private ExampleApp<OnboardUser> _app = null!;

    public async Task InitializeAsync()
    {
        _platform = await PlatformHost.StartAsync("onboarding_cron");
        _app = await ExampleApp<OnboardUser>.StartAsync(_platform, "onboarding", new Dictionary<string, string?>
        {
            ["Onboarding:DigestSchedule"] = Schedule,
        });
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _platform.DisposeAsync();
    }

    [Fact]
    public async Task TrialDigest_EveryTwoSeconds_PlatformFiresTicksThatEmailTheUsersOnATrial()
    {
        var function = (await _platform.Http.GetFromJsonAsync<Platform.Executor.Queries.FunctionDto>("/api/v1/functions/onboarding-trial-digest"))!;
        Assert.Equal(Schedule, function.Triggers[0].GetProperty("cron").GetString());
        using var response = await _app.Http.PostAsJsonAsync("/signups", new { email = "linus@initech.example", name = "Linus", company = "Initech" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await Eventually.WaitAsync(() => Task.FromResult(_app.Get<FakeBilling>().Customers.Count), n => n == 1, "the billing customer");

        // Two ticks after the customer exists, each its own run of inngest/scheduled.timer.
        var runs = await Eventually.WaitAsync(
            () => _platform.RunsOfFunctionAsync("onboarding-trial-digest"),
            runs => runs.Count(r => r.Status == "Completed") >= 3,
            "three completed trial-digest runs",
            TimeSpan.FromSeconds(30));
        Assert.All(runs, r => Assert.Equal("inngest/scheduled.timer", r.EventName));
        Assert.Equal(runs.Count, runs.Select(r => r.EventId).Distinct().Count());
        var completed = runs.Where(r => r.Status == "Completed").OrderBy(r => r.CreatedAt).ToList();
        var gaps = completed.Zip(completed.Skip(1), (a, b) => (b.CreatedAt - a.CreatedAt).TotalSeconds).ToList();
        output.WriteLine($"{completed.Count} digest runs, started {string.Join(", ", gaps.Select(g => g.ToString("0.00")))} s apart");
        Assert.All(gaps, g => Assert.InRange(g, 1.0, 6.0));

        var latest = await _platform.GetRunAsync(completed[^1].Id);
        Assert.Equal(1, latest.Output!.Value.GetProperty("emailed").GetInt32());
        Assert.Equal(Schedule, latest.Event.Data.GetProperty("cron").GetString());
        Assert.Contains(_app.Get<FakeEmailSender>().Sent.Values, e => e.To == "linus@initech.example" && e.Subject == "Your daily digest");
    }
}
