using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Platform.Executor.Scheduling;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Parity;

/// <summary>
/// Cron triggers with WireMock apps: each tick starts one run with an <c>inngest/scheduled.timer</c> event, exactly
/// once even with two platform processes on the same database firing the same schedule.
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class CronTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    private const string EveryTwoSeconds = "TZ=Europe/Paris */2 * * * * *";

    [Fact]
    public async Task Cron_TwoPlatformProcesses_EachTickStartsExactlyOneRun()
    {
        // A second platform process on the same database: its cron loop competes for the same ticks.
        await using var second = await PlatformApp.StartAsync("cron_second", new Dictionary<string, string?>
        {
            ["ConnectionStrings:Platform"] = fixture.Platform.ConnectionString,
        });
        await using var app = await FakeApp.StartAsync(fixture.Platform, "cron", retries: 0, call =>
            AppReply.Complete($"{{\"name\":{call.Event.GetProperty("name").GetRawText()},\"cron\":{call.Event.GetProperty("data").GetProperty("cron").GetRawText()}}}"),
            (_, f) => f["triggers"] = new JsonArray(new JsonObject { ["cron"] = EveryTwoSeconds }));
        var schedulers = new[] { fixture.Platform.GetRequiredService<CronScheduler>(), second.GetRequiredService<CronScheduler>() };
        var before = schedulers.Select(s => (s.TicksWon, s.TicksLost)).ToArray();
        var archivedAt = DateTime.MaxValue;
        try
        {
            await Eventually.WaitAsync(() => CompletedRunsAsync(app.Slug), n => n >= 4, TimeSpan.FromSeconds(30), "four ticks to have run");
        }
        finally
        {
            await ArchiveAsync(app);
            archivedAt = DateTime.UtcNow;
        }

        // Let both loops see the archive (each caches the function list up to 2 s), then count.
        await Eventually.WaitAsync(() => Task.FromResult(DateTime.UtcNow), t => t > archivedAt.AddSeconds(3), TimeSpan.FromSeconds(10), "the archive to reach both loops");
        var claims = schedulers.Select((s, i) => (Won: s.TicksWon - before[i].TicksWon, Lost: s.TicksLost - before[i].TicksLost)).ToArray();

        var ticks = await TicksAsync(app.Slug);
        Assert.True(ticks.Count >= 4, $"{ticks.Count} ticks");
        Assert.Equal(ticks.Count, ticks.Select(t => t.Tick).Distinct().Count());
        Assert.Equal(ticks.Count, ticks.Select(t => t.RunId).Distinct().Count());
        Assert.All(ticks, t => Assert.Equal(0, t.Tick.ToUnixTimeSeconds() % 2));
        var gaps = ticks.Zip(ticks.Skip(1), (a, b) => b.Tick - a.Tick).ToList();
        Assert.All(gaps, g => Assert.Equal(TimeSpan.FromSeconds(2), g));
        var runs = await fixture.Platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.runs r JOIN platform.functions f ON f.id = r.function_id WHERE f.slug = @slug", ("slug", app.Slug));
        Assert.Equal(ticks.Count, runs);
        output.WriteLine($"two processes: {ticks.Count} ticks from {ticks[0].Tick:HH:mm:ss} to {ticks[^1].Tick:HH:mm:ss}, {runs} runs, no tick twice; " +
            $"claims won/lost: first {claims[0].Won}/{claims[0].Lost}, second {claims[1].Won}/{claims[1].Lost}");
        // Every tick was claimed once, and nearly every tick was also tried (and lost) by the other process.
        Assert.Equal(ticks.Count, claims.Sum(c => c.Won));
        Assert.True(claims.Sum(c => c.Lost) >= ticks.Count - 2, $"only {claims.Sum(c => c.Lost)} lost claims for {ticks.Count} ticks");

        var call = app.Calls.First();
        Assert.Equal("inngest/scheduled.timer", call.Event.GetProperty("name").GetString());
        Assert.Equal(EveryTwoSeconds, call.Event.GetProperty("data").GetProperty("cron").GetString());
        var scheduledAt = DateTimeOffset.Parse(call.Event.GetProperty("data").GetProperty("scheduledAt").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(ticks, t => t.Tick == scheduledAt);
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task Sync_InvalidCron_IsRejected()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            FakeApp.RegisterAsync(fixture.Platform, "cron-bad", retries: 0, _ => AppReply.Complete("1"),
                (_, f) => f["triggers"] = new JsonArray(new JsonObject { ["cron"] = "TZ=Nowhere/Land 0 9 * * *" })));

        Assert.Contains("unknown time zone", error.Message, StringComparison.Ordinal);
    }

    private Task<long> CompletedRunsAsync(string slug) =>
        fixture.Platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.runs r JOIN platform.functions f ON f.id = r.function_id WHERE f.slug = @slug AND r.status = 'Completed'",
            ("slug", slug));

    private async Task<List<(DateTimeOffset Tick, string RunId)>> TicksAsync(string slug)
    {
        var rows = new List<(DateTimeOffset, string)>();
        await using var connection = new NpgsqlConnection(fixture.Platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT t.tick_at, t.run_id FROM platform.cron_ticks t JOIN platform.functions f ON f.id = t.function_id
             WHERE f.slug = @slug ORDER BY t.tick_at
            """, connection);
        command.Parameters.AddWithValue("slug", slug);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1)));
        }

        return rows;
    }

    /// <summary>Syncs the app with no functions: its cron stops firing (the function is archived).</summary>
    private async Task ArchiveAsync(FakeApp app)
    {
        using var response = await fixture.Platform.Http.PostAsJsonAsync("/fn/register", new
        {
            url = app.Url, deployType = "ping", appName = app.AppName, framework = "wiremock", sdk = "test:v1", v = "0.1", functions = Array.Empty<object>(),
        });
        response.EnsureSuccessStatusCode();
    }
}
