using System.Security.Cryptography;
using Npgsql;
using Platform.Executor.Events;
using Platform.Executor.Queries;
using Platform.Executor.Runs;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Integration;

public sealed class RunQueriesFixture() : PlatformFixture("runqueries")
{
    protected override Task OnStartedAsync(PlatformApp platform) => Task.CompletedTask;
}

/// <summary>
/// The dashboard's and the API's run reads against real PostgreSQL: time range (by the creation time in the run id),
/// app filter, payload search with its per-page budget, capped counts, per-function windows and app health. Each
/// test registers its own app, so the shared database's other rows never match its filters.
/// </summary>
public sealed class RunQueriesTests(RunQueriesFixture fixture, ITestOutputHelper output) : IClassFixture<RunQueriesFixture>
{
    private readonly PlatformApp _platform = fixture.Platform;
    private readonly PlatformQueries _queries = fixture.Platform.GetRequiredService<PlatformQueries>();

    [Fact]
    public async Task ListRunsAsync_TimeRange_ReturnsRunsCreatedInRangeNewestFirst()
    {
        var app = await RegisterAppAsync("range", "a");
        var t = new DateTimeOffset(2021, 3, 1, 12, 0, 0, TimeSpan.Zero);
        var before = await SeedAsync($"{app}-a", t.AddHours(-3), "Completed");
        var atFrom = await SeedAsync($"{app}-a", t.AddHours(-2), "Completed");
        var inside = await SeedAsync($"{app}-a", t.AddHours(-1), "Failed");
        var atTo = await SeedAsync($"{app}-a", t, "Completed");

        var page = await _queries.ListRunsAsync(Filter(app) with { From = t.AddHours(-2), To = t }, CancellationToken.None);

        Assert.Equal([inside, atFrom], page.Items.Select(r => r.Id));
        Assert.Null(page.NextCursor);
        Assert.DoesNotContain(before, page.Items.Select(r => r.Id));
        Assert.DoesNotContain(atTo, page.Items.Select(r => r.Id)); // to is exclusive
        var failedInRange = await _queries.ListRunsAsync(Filter(app) with { From = t.AddHours(-2), To = t, Statuses = ["Failed"] }, CancellationToken.None);
        Assert.Equal([inside], failedInRange.Items.Select(r => r.Id));
    }

    [Fact]
    public async Task ListRunsAsync_AppFilter_ListsOnlyRunsOfThatAppsFunctions()
    {
        var mine = await RegisterAppAsync("appf", "x", "y");
        var other = await RegisterAppAsync("appg", "x");
        var t = new DateTimeOffset(2021, 4, 1, 0, 0, 0, TimeSpan.Zero);
        var x = await SeedAsync($"{mine}-x", t, "Completed");
        var y = await SeedAsync($"{mine}-y", t.AddMinutes(1), "Running");
        await SeedAsync($"{other}-x", t.AddMinutes(2), "Completed");

        var page = await _queries.ListRunsAsync(Filter(mine), CancellationToken.None);
        var unknown = await _queries.ListRunsAsync(Filter("no-such-app"), CancellationToken.None);

        Assert.Equal([y, x], page.Items.Select(r => r.Id));
        Assert.Empty(unknown.Items);
    }

    [Fact]
    public async Task ListRunsAsync_Search_MatchesEventDataOrOutputCaseInsensitivelyAndTakesWildcardsLiterally()
    {
        var app = await RegisterAppAsync("search", "a");
        var t = new DateTimeOffset(2021, 5, 1, 0, 0, 0, TimeSpan.Zero);
        var inData = await SeedAsync($"{app}-a", t, "Completed", data: """{"orderId":"Needle-42"}""");
        var inOutput = await SeedAsync($"{app}-a", t.AddMinutes(1), "Completed", runOutput: """{"receipt":"NEEDLE-43"}""");
        await SeedAsync($"{app}-a", t.AddMinutes(2), "Completed", data: """{"orderId":"haystack"}""", runOutput: """{"discount":"500"}""");
        var percent = await SeedAsync($"{app}-a", t.AddMinutes(3), "Completed", data: """{"discount":"50%"}""");

        var needles = await _queries.ListRunsAsync(Filter(app) with { Search = "needle-4" }, CancellationToken.None);
        var literal = await _queries.ListRunsAsync(Filter(app) with { Search = "50%" }, CancellationToken.None);
        var none = await _queries.ListRunsAsync(Filter(app) with { Search = "absent" }, CancellationToken.None);

        Assert.Equal([inOutput, inData], needles.Items.Select(r => r.Id));
        Assert.Equal([percent], literal.Items.Select(r => r.Id)); // '%' is not a wildcard: "500" does not match
        Assert.Empty(none.Items);
        Assert.Null(none.NextCursor);
    }

    [Fact]
    public async Task ListRunsAsync_SearchBeyondItsBudget_ShortPageWhoseCursorContinuesTheSearch()
    {
        var app = await RegisterAppAsync("budget", "a");
        var t = new DateTimeOffset(2021, 6, 1, 0, 0, 0, TimeSpan.Zero);
        var hit = await SeedAsync($"{app}-a", t, "Completed", data: """{"orderId":"deep-needle"}""");
        await SeedManyAsync($"{app}-a", PlatformQueries.SearchBudget + 10, t.AddMinutes(1), "Completed");

        var first = await _queries.ListRunsAsync(Filter(app) with { Search = "deep-needle" }, CancellationToken.None);
        var second = await _queries.ListRunsAsync(Filter(app) with { Search = "deep-needle", Cursor = first.NextCursor }, CancellationToken.None);

        output.WriteLine($"first page: {first.Items.Count} rows, cursor {first.NextCursor}; second: {second.Items.Count} rows, cursor {second.NextCursor ?? "none"}");
        Assert.Empty(first.Items);
        Assert.NotNull(first.NextCursor);
        Assert.Equal([hit], second.Items.Select(r => r.Id));
        Assert.Null(second.NextCursor);
    }

    [Fact]
    public async Task CountRunsAsync_MoreRunsThanTheCap_AllCappedAndSmallStatusesExact()
    {
        var app = await RegisterAppAsync("counts", "a", "b");
        var t = new DateTimeOffset(2021, 7, 1, 0, 0, 0, TimeSpan.Zero);
        await SeedManyAsync($"{app}-a", (int)PlatformQueries.CountCap + 5, t, "Completed");
        await SeedManyAsync($"{app}-b", 7, t.AddDays(1), "Failed");
        await SeedManyAsync($"{app}-b", 3, t.AddDays(2), "Sleeping");

        var all = await _queries.CountRunsAsync(Filter(app), CancellationToken.None);
        var b = await _queries.CountRunsAsync(Filter(app) with { Function = $"{app}-b" }, CancellationToken.None);
        var laterDays = await _queries.CountRunsAsync(Filter(app) with { From = t.AddDays(1) }, CancellationToken.None);

        Assert.Equal(PlatformQueries.CountCap, all.All);
        Assert.True(all.IsCapped(all.All));
        Assert.Equal(PlatformQueries.CountCap, all.ByStatus[RunStatus.Completed]);
        Assert.Equal(7, all.ByStatus[RunStatus.Failed]);
        Assert.Equal(3, all.ByStatus[RunStatus.Sleeping]);
        Assert.Equal(0, all.ByStatus[RunStatus.Queued]);
        Assert.False(all.IsCapped(7));
        Assert.Equal(10, b.All);
        Assert.Equal(0, b.ByStatus[RunStatus.Completed]);
        Assert.Equal(10, laterDays.All);
    }

    [Fact]
    public async Task FunctionStatsAsync_RunsOfTheLastHourAndDay_CountsAndFailureRate()
    {
        var app = await RegisterAppAsync("stats", "a");
        var now = DateTimeOffset.UtcNow;
        await SeedManyAsync($"{app}-a", 3, now.AddMinutes(-30), "Completed");
        await SeedManyAsync($"{app}-a", 1, now.AddMinutes(-20), "Failed");
        await SeedManyAsync($"{app}-a", 2, now.AddMinutes(-10), "Running");
        await SeedManyAsync($"{app}-a", 4, now.AddHours(-5), "Failed");
        await SeedManyAsync($"{app}-a", 9, now.AddDays(-3), "Failed");

        var stats = (await _queries.FunctionStatsAsync(now, CancellationToken.None)).Single(s => s.Slug == $"{app}-a");

        Assert.Equal(new RunWindowDto(6, 4, 1), stats.LastHour);
        Assert.Equal(0.25, stats.LastHour.FailureRate);
        Assert.Equal(new RunWindowDto(10, 8, 5), stats.LastDay);
        Assert.Equal(5 / 8.0, stats.LastDay.FailureRate);
    }

    [Fact]
    public async Task AppHealthAsync_FailedAttemptAfterTheLastCompletedRun_Failing()
    {
        var app = await RegisterAppAsync("health", "a");
        var now = DateTimeOffset.UtcNow;
        var completed = await SeedAsync($"{app}-a", now.AddMinutes(-10), "Completed");
        await ExecuteAsync("UPDATE platform.runs SET ended_at = now() - interval '9 minutes' WHERE id = @id", ("id", completed));
        var healthyBefore = (await _queries.AppHealthAsync(1000, CancellationToken.None)).Single(h => h.App == app);

        var failing = await SeedAsync($"{app}-a", now.AddMinutes(-1), "Running");
        await ExecuteAsync("""
            INSERT INTO platform.attempts (run_id, step_id, attempt, error, started_at, ended_at)
            VALUES (@id, 'step', 1, '{"name":"Error","message":"connect ECONNREFUSED"}', now(), now())
            """, ("id", failing));
        var after = (await _queries.AppHealthAsync(1000, CancellationToken.None)).Single(h => h.App == app);

        Assert.False(healthyBefore.Failing);
        Assert.NotNull(healthyBefore.LastCompletedAt);
        Assert.True(after.Failing);
        Assert.Equal("Error: connect ECONNREFUSED", after.LastError);
    }

    [Fact]
    public async Task RunsApi_AppAndQParameters_FilterAsTheDashboardDoes()
    {
        var app = await RegisterAppAsync("api", "a");
        var t = new DateTimeOffset(2021, 8, 1, 0, 0, 0, TimeSpan.Zero);
        var hit = await SeedAsync($"{app}-a", t, "Completed", data: """{"orderId":"api-needle"}""");
        await SeedAsync($"{app}-a", t.AddMinutes(1), "Completed", data: """{"orderId":"other"}""");

        var reply = await Api.GetAsync(_platform, $"/api/v1/runs?app={app}&q=API-NEEDLE&from=2021-07-31T00:00:00Z&to=2021-08-02T00:00:00Z");
        var outside = await Api.GetAsync(_platform, $"/api/v1/runs?app={app}&q=api-needle&to=2021-07-31T00:00:00Z");

        output.WriteLine($"{reply}; outside the range: {outside}");
        Assert.Equal(200, reply.Code);
        Assert.Equal([hit], reply.Json.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        Assert.Equal(0, outside.Json.GetProperty("items").GetArrayLength());
    }

    private static RunFilter Filter(string app) => new(null, null, null, null, null, 50) { App = app };

    private async Task<string> RegisterAppAsync(string prefix, params string[] functions)
    {
        var app = $"{prefix}{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        await Api.RegisterAsync(_platform, app, Api.UnreachableAppUrl(),
            functions.Select(f => new FunctionSpec(f, $$"""{"event":"{{app}}/{{f}}"}""")).ToArray());
        return app;
    }

    /// <summary>A run of <paramref name="slug"/> (and its event) whose id says it was created at <paramref name="created"/>.</summary>
    private async Task<string> SeedAsync(string slug, DateTimeOffset created, string status, string data = "{}", string? runOutput = null) =>
        (await SeedRowsAsync(slug, [created], status, data, runOutput)).Single();

    /// <summary><paramref name="count"/> runs one millisecond apart from <paramref name="start"/>.</summary>
    private Task<string[]> SeedManyAsync(string slug, int count, DateTimeOffset start, string status) =>
        SeedRowsAsync(slug, Enumerable.Range(0, count).Select(i => start.AddMilliseconds(i)).ToArray(), status, "{}", null);

    private async Task<string[]> SeedRowsAsync(string slug, DateTimeOffset[] times, string status, string data, string? runOutput)
    {
        var runIds = times.Select(Ulid.New).ToArray();
        var eventIds = times.Select(Ulid.New).ToArray();
        await ExecuteAsync("""
            INSERT INTO platform.events (id, event_id, name, data, ts, received_at)
            SELECT u.id, u.id, 'seed', @data::jsonb, 0, u.at FROM unnest(@event_ids, @times) AS u(id, at);
            INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, recoveries, wake_seq, state, output, created_at, ended_at)
            SELECT u.id, f.id, u.event_id, @status, 0, CASE WHEN @status IN ('Completed','Failed','Cancelled') THEN NULL ELSE '2100-01-01'::timestamptz END,
                   0, 0, '{"items":[]}', @output::jsonb, u.at, CASE WHEN @status IN ('Completed','Failed','Cancelled') THEN u.at END
              FROM unnest(@run_ids, @event_ids, @times) AS u(id, event_id, at)
              JOIN platform.functions f ON f.slug = @slug
            """,
            ("data", data), ("event_ids", eventIds), ("times", times), ("status", status), ("output", (object?)runOutput ?? DBNull.Value),
            ("run_ids", runIds), ("slug", slug));
        return runIds;
    }

    private async Task ExecuteAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(_platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(value is DBNull ? new NpgsqlParameter(name, NpgsqlTypes.NpgsqlDbType.Text) { Value = value } : new NpgsqlParameter(name, value));
        }

        await command.ExecuteNonQueryAsync();
    }
}
