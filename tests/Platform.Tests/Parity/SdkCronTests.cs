using System.Net.Http.Json;
using System.Text.Json;
using Platform.Tests.EndToEnd;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Parity;

/// <summary>
/// A cron function on the real SDK (<c>ticker</c>, every 2 s in Paris time), served by its own Node app
/// (<c>PARITY_CRON=1</c>, app id <c>cron-app</c>) so that its runs do not mix with the other tests'.
/// </summary>
[Collection(ParitySdkCollection.Name)]
public sealed class SdkCronTests(ParitySdkFixture fixture, ITestOutputHelper output)
{
    private const string AppId = "cron-app";
    private const string Slug = AppId + "-ticker";

    [Fact]
    public async Task Cron_TickerEveryTwoSeconds_EachTickRunsOnceWithTheTimerEvent()
    {
        var log = Path.Combine(Path.GetTempPath(), $"platform-parity-cron-{Guid.NewGuid():N}.log");
        var app = await InngestNodeApp.StartAsync(fixture.Platform.BaseUrl, log,
            new Dictionary<string, string> { ["APP_ID"] = AppId, ["PARITY_CRON"] = "1" });
        List<JsonElement> runs;
        IReadOnlyList<ExecEntry> execLog = [];
        try
        {
            await app.SyncAsync();
            runs = await Eventually.WaitAsync(
                async () => (await PlatformHttp.GetJsonAsync(fixture.Http, $"/api/v1/runs?function={Slug}&status=Completed&limit=200"))
                    .GetProperty("items").EnumerateArray().Select(r => r.Clone()).ToList(),
                r => r.Count >= 3,
                PlatformHttp.RunTimeout,
                "three ticks of the cron to have run");
        }
        finally
        {
            // Archive the function (a sync without it), so that it stops firing, then stop the app.
            using var archive = await fixture.Http.PostAsJsonAsync("/fn/register", new
            {
                url = app.ServeUrl, deployType = "ping", appName = AppId, framework = "node", sdk = "test:v1", v = "0.1", functions = Array.Empty<object>(),
            });
            execLog = app.ReadExecLog();
            app.Dispose();
            File.Delete(log);
            archive.EnsureSuccessStatusCode();
            output.WriteLine($"{execLog.Count} tick step executions logged");
        }

        var outputs = new List<(DateTimeOffset At, string RunId)>();
        foreach (var summary in runs)
        {
            var run = await PlatformHttp.GetJsonAsync(fixture.Http, $"/api/v1/runs/{summary.GetProperty("id").GetString()}");
            var result = run.GetProperty("output");
            Assert.Equal("inngest/scheduled.timer", result.GetProperty("name").GetString());
            Assert.Equal("TZ=Europe/Paris */2 * * * * *", result.GetProperty("cron").GetString());
            outputs.Add((DateTimeOffset.Parse(result.GetProperty("at").GetString()!, System.Globalization.CultureInfo.InvariantCulture), run.GetProperty("id").GetString()!));
        }

        Assert.All(outputs, o => Assert.Single(execLog, e => e.RunId == o.RunId && e.Step == "tick"));
        var ticks = outputs.Select(o => o.At).Order().ToList();
        Assert.Equal(ticks.Count, ticks.Distinct().Count());
        Assert.All(ticks, t => Assert.Equal(0, t.ToUnixTimeSeconds() % 2));
        output.WriteLine($"ticker: {ticks.Count} runs at {string.Join(", ", ticks.Select(t => t.ToString("HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)))}");
    }
}
