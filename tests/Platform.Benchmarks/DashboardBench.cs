using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Platform.Executor.Events;
using Platform.Executor.Queries;
using Platform.Executor.Runs;
using Platform.Executor.Storage;

namespace Platform.Benchmarks;

/// <summary>
/// <c>--dashboard</c>: seeds a fresh database with a million runs (and their events, some failed attempts) by binary
/// COPY, then times what the runs page and the apps page read, through the same <see cref="PlatformQueries"/> the
/// platform uses, and the full server render of the pages over HTTP from a platform child process. Medians of
/// several repetitions after one warm-up.
/// </summary>
public static class DashboardBench
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private const int Functions = 10;
    private static readonly string[] s_apps = ["shop", "billing", "ops"];

    public static async Task<int> RunAsync(int runs, int repetitions, CancellationToken cancellationToken)
    {
        var repoRoot = FindRepoRoot();
        var stamp = DateTimeOffset.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
        Console.WriteLine($"Dashboard benchmark ({Configuration}): {runs:N0} runs, median of {repetitions}; load average {CpuSampler.LoadAverage()}");
        await using var database = await BenchDatabase.CreateAsync(loggerFactory.CreateLogger("bench"), cancellationToken);
        Console.WriteLine($"Database: {database.Source}");
        var log = Path.Combine(repoRoot, "artifacts", "bench", $"{stamp}-dashboard-platform.log");
        // The platform migrates the schema; its executor finds nothing to move (every unfinished run is due in 2100).
        await using var platform = await PlatformProcess.StartAsync(repoRoot, Configuration, database.ConnectionString, log, cancellationToken);
        EventHandler killOnExit = (_, _) => platform.Kill();
        AppDomain.CurrentDomain.ProcessExit += killOnExit;
        try
        {
            var now = DateTimeOffset.UtcNow;
            var seed = Stopwatch.StartNew();
            var functions = await SeedAsync(database.ConnectionString, runs, now, cancellationToken);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Seeded {runs:N0} runs and events in {seed.Elapsed.TotalSeconds:0.0} s (COPY, then VACUUM ANALYZE)"));

            // The platform's own pool settings (ExecutorServiceCollectionExtensions): auto-prepared statements run on
            // generic plans after five executions, and the figures must include that.
            await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database.ConnectionString)
            {
                MaxAutoPrepare = 64,
                NoResetOnClose = true,
            }.ConnectionString);
            var dbOptions = new DbContextOptionsBuilder<PlatformDbContext>().UseNpgsql(dataSource).UseSnakeCaseNamingConvention().Options;
            var queries = new PlatformQueries(new PooledDbContextFactory<PlatformDbContext>(dbOptions), new PlatformDatabase(dataSource));
            using var http = new HttpClient { BaseAddress = new Uri(platform.BaseUrl), Timeout = TimeSpan.FromSeconds(60) };

            var results = new List<(string Name, Stats Stats, string Note)>();
            async Task MeasureAsync(string name, Func<Task<string>> work)
            {
                var note = await work(); // warm-up
                var times = new List<double>();
                for (var i = 0; i < repetitions; i++)
                {
                    var started = Clock.Now;
                    note = await work();
                    times.Add(Clock.MsBetween(started, Clock.Now));
                }

                var stats = Stats.Of(times);
                results.Add((name, stats, note));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-52} p50 {stats.P50,8:0.00} ms  max {stats.Max,8:0.00} ms  {note}"));
            }

            RunFilter Filter(string? status = null, string? function = null) =>
                new(status is null ? null : [status], function, null, null, null, RunsPageSize);
            static string Rows(Page<RunSummaryDto> page) => $"{page.Items.Count} rows{(page.NextCursor is null ? "" : ", more")}";

            var first = await queries.ListRunsAsync(Filter(), cancellationToken);
            var deep = RunIdAt(now, runs, runs / 2);
            var dayAgo10 = now.AddDays(-10);
            var rare = functions[^1];
            Console.WriteLine("Runs page queries:");
            await MeasureAsync("list, first page", async () => Rows(await queries.ListRunsAsync(Filter(), cancellationToken)));
            await MeasureAsync("list, next page by cursor", async () => Rows(await queries.ListRunsAsync(Filter() with { Cursor = first.NextCursor }, cancellationToken)));
            await MeasureAsync("list, cursor half way (500k older runs)", async () => Rows(await queries.ListRunsAsync(Filter() with { Cursor = deep }, cancellationToken)));
            await MeasureAsync("list, status=Failed", async () => Rows(await queries.ListRunsAsync(Filter("Failed"), cancellationToken)));
            await MeasureAsync("list, status=Queued (rare)", async () => Rows(await queries.ListRunsAsync(Filter("Queued"), cancellationToken)));
            await MeasureAsync("list, function (10% of runs)", async () => Rows(await queries.ListRunsAsync(Filter(function: functions[0]), cancellationToken)));
            await MeasureAsync("list, function (0.1% of runs)", async () => Rows(await queries.ListRunsAsync(Filter(function: rare), cancellationToken)));
            await MeasureAsync("list, rare function + status=Failed", async () => Rows(await queries.ListRunsAsync(Filter("Failed", rare), cancellationToken)));
            await MeasureAsync("list, app", async () => Rows(await queries.ListRunsAsync(Filter() with { App = s_apps[1] }, cancellationToken)));
            await MeasureAsync("list, 1-hour range 10 days ago", async () =>
                Rows(await queries.ListRunsAsync(Filter() with { From = dayAgo10, To = dayAgo10.AddHours(1) }, cancellationToken)));
            await MeasureAsync("list, 1-hour range 10 days ago + status=Failed", async () =>
                Rows(await queries.ListRunsAsync(Filter("Failed") with { From = dayAgo10, To = dayAgo10.AddHours(1) }, cancellationToken)));
            await MeasureAsync("search, hit among the newest runs", async () =>
                Rows(await queries.ListRunsAsync(Filter() with { Search = $"ORD-{runs - 20}" }, cancellationToken)));
            await MeasureAsync("search, no match (whole budget read)", async () =>
                Rows(await queries.ListRunsAsync(Filter() with { Search = "no-such-text" }, cancellationToken)));
            await MeasureAsync("search, output text in a 1-day range", async () =>
                Rows(await queries.ListRunsAsync(Filter() with { Search = "rcpt-", From = dayAgo10, To = dayAgo10.AddDays(1) }, cancellationToken)));
            static string Counts(RunCounts c) => "all " + (c.IsCapped(c.All) ? $"{c.All:N0}+" : $"{c.All:N0}") + ", queued " + c.ByStatus[RunStatus.Queued].ToString("N0", CultureInfo.InvariantCulture);
            await MeasureAsync("counts per status (capped), no filter", async () => Counts(await queries.CountRunsAsync(Filter(), cancellationToken)));
            await MeasureAsync("counts per status, rare function", async () => Counts(await queries.CountRunsAsync(Filter(function: rare), cancellationToken)));
            await MeasureAsync("counts per status, app", async () => Counts(await queries.CountRunsAsync(Filter() with { App = s_apps[1] }, cancellationToken)));
            await MeasureAsync("counts per status, 1-day range", async () =>
                Counts(await queries.CountRunsAsync(Filter() with { From = dayAgo10, To = dayAgo10.AddDays(1) }, cancellationToken)));
            await MeasureAsync("old count: GROUP BY status over all runs", async () => await GroupByCountAsync(dataSource, cancellationToken));
            await MeasureAsync("page refresh: list + counts, no filter", async () =>
            {
                await queries.CountRunsAsync(Filter(), cancellationToken);
                return Rows(await queries.ListRunsAsync(Filter(), cancellationToken));
            });

            Console.WriteLine("Pages over HTTP (server render, the queries included):");
            await MeasureAsync("GET /runs", () => GetAsync(http, "/runs", cancellationToken));
            await MeasureAsync("GET /runs?status=Failed&function=<rare>", () => GetAsync(http, $"/runs?status=Failed&function={rare}", cancellationToken));
            await MeasureAsync("GET /runs?from&to (1 day) &q=rcpt-", () => GetAsync(http,
                $"/runs?from={Uri.EscapeDataString(dayAgo10.UtcDateTime.ToString("s", CultureInfo.InvariantCulture))}&to={Uri.EscapeDataString(dayAgo10.AddDays(1).UtcDateTime.ToString("s", CultureInfo.InvariantCulture))}&q=rcpt-", cancellationToken));
            await MeasureAsync("GET /api/v1/runs?limit=50", () => GetAsync(http, "/api/v1/runs?limit=50", cancellationToken));

            Console.WriteLine("Apps page:");
            await MeasureAsync("function stats (hour, day)", async () => $"{(await queries.FunctionStatsAsync(DateTimeOffset.UtcNow, cancellationToken)).Count} functions");
            await MeasureAsync("app health", async () => $"{(await queries.AppHealthAsync(1_000, cancellationToken)).Count} apps");
            await MeasureAsync("GET /apps", () => GetAsync(http, "/apps", cancellationToken));

            var outDir = Path.Combine(repoRoot, "artifacts", "bench");
            Directory.CreateDirectory(outDir);
            var file = Path.Combine(outDir, $"{stamp}-dashboard.json");
            await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new
            {
                runs,
                repetitions,
                database = database.Source,
                settings = await database.SettingsAsync(cancellationToken),
                results = results.Select(r => new { r.Name, r.Stats.P50, r.Stats.Max, r.Note }),
            }, new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
            var slowest = results.Where(r => r.Name.StartsWith("GET /runs", StringComparison.Ordinal)).Max(r => r.Stats.P50);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Slowest runs page render p50 {slowest:0.0} ms (target < 200 ms: {(slowest < 200 ? "ok" : "MISS")}). Written to {file}"));
            return 0;
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= killOnExit;
        }
    }

    private const int RunsPageSize = 50;

    /// <summary>Run <paramref name="i"/> of <paramref name="runs"/>, spread evenly over the 30 days before <paramref name="now"/>.</summary>
    private static long CreatedMs(DateTimeOffset now, int runs, int i) =>
        now.AddDays(-30).ToUnixTimeMilliseconds() + (long)(i * (TimeSpan.FromDays(30).TotalMilliseconds / runs));

    private static string RunIdAt(DateTimeOffset now, int runs, int i) => Ulid.Create(CreatedMs(now, runs, i), new byte[10]);

    private static string StatusOf(int i) => (i % 1000) switch
    {
        < 900 => "Completed",
        < 950 => "Failed",
        < 970 => "Cancelled",
        < 980 => "Running",
        < 990 => "Sleeping",
        < 995 => "Waiting",
        _ => "Queued",
    };

    /// <summary>Function 9 gets one run in a thousand; the others share the rest.</summary>
    private static int FunctionOf(int i) => i % 1000 == 7 ? Functions - 1 : i % (Functions - 1);

    private static async Task<string[]> SeedAsync(string connectionString, int runs, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var appIds = s_apps.Select(_ => Guid.NewGuid()).ToArray();
        var functionIds = Enumerable.Range(0, Functions).Select(_ => Guid.NewGuid()).ToArray();
        var slugs = Enumerable.Range(0, Functions).Select(f => $"{s_apps[AppOf(f)]}-fn-{f}").ToArray();
        await using (var apps = new NpgsqlCommand("""
            INSERT INTO platform.apps (id, name, url, sdk, checksum, created_at, synced_at)
            SELECT u.id, u.name, 'http://127.0.0.1:9/api/inngest', 'bench', 'seed', now(), now() FROM unnest(@ids, @names) AS u(id, name);
            INSERT INTO platform.functions (id, app_id, slug, name, url, retries, triggers, config, created_at, updated_at)
            SELECT u.id, u.app_id, u.slug, u.slug, 'http://127.0.0.1:9/api/inngest', 3,
                   jsonb_build_array(jsonb_build_object('event', 'bench/' || u.slug)), '{}'::jsonb, now(), now()
              FROM unnest(@function_ids, @app_ids, @slugs) AS u(id, app_id, slug);
            """, connection))
        {
            apps.Parameters.AddWithValue("ids", appIds);
            apps.Parameters.AddWithValue("names", s_apps);
            apps.Parameters.AddWithValue("function_ids", functionIds);
            apps.Parameters.AddWithValue("app_ids", Enumerable.Range(0, Functions).Select(f => appIds[AppOf(f)]).ToArray());
            apps.Parameters.AddWithValue("slugs", slugs);
            await apps.ExecuteNonQueryAsync(cancellationToken);
        }

        var state = RunState.Start(DateTimeOffset.UnixEpoch).ToJson();
        var entropy = new byte[10];
        var eventIds = new string[runs];
        await using (var events = await connection.BeginBinaryImportAsync(
            "COPY platform.events (id, event_id, name, data, ts, received_at) FROM STDIN (FORMAT BINARY)", cancellationToken))
        {
            for (var i = 0; i < runs; i++)
            {
                var ms = CreatedMs(now, runs, i);
                RandomNumberGenerator.Fill(entropy);
                var id = eventIds[i] = Ulid.Create(ms, entropy);
                await events.StartRowAsync(cancellationToken);
                await events.WriteAsync(id, NpgsqlDbType.Text, cancellationToken);
                await events.WriteAsync(id, NpgsqlDbType.Text, cancellationToken);
                await events.WriteAsync("bench/" + slugs[FunctionOf(i)], NpgsqlDbType.Text, cancellationToken);
                await events.WriteAsync(string.Create(CultureInfo.InvariantCulture,
                    $$"""{"orderId": "ord-{{i}}", "customerId": "cus_{{i % 5000}}", "amount": {{i % 1000}}, "sku": "SKU-{{i % 97}}"}"""), NpgsqlDbType.Jsonb, cancellationToken);
                await events.WriteAsync(ms, NpgsqlDbType.Bigint, cancellationToken);
                await events.WriteAsync(DateTimeOffset.FromUnixTimeMilliseconds(ms), NpgsqlDbType.TimestampTz, cancellationToken);
            }

            await events.CompleteAsync(cancellationToken);
        }

        var farFuture = new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var failedRuns = new List<string>();
        await using (var copy = await connection.BeginBinaryImportAsync("""
            COPY platform.runs (id, function_id, event_id, status, version, next_wake_at, dispatched_at, recoveries, wake_seq, state, output, error, created_at, started_at, ended_at)
            FROM STDIN (FORMAT BINARY)
            """, cancellationToken))
        {
            for (var i = 0; i < runs; i++)
            {
                var ms = CreatedMs(now, runs, i);
                var created = DateTimeOffset.FromUnixTimeMilliseconds(ms);
                RandomNumberGenerator.Fill(entropy);
                var id = Ulid.Create(ms, entropy);
                var status = StatusOf(i);
                var final = status is "Completed" or "Failed" or "Cancelled";
                if (status == "Failed" && i > runs - 200_000)
                {
                    failedRuns.Add(id);
                }

                await copy.StartRowAsync(cancellationToken);
                await copy.WriteAsync(id, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(functionIds[FunctionOf(i)], NpgsqlDbType.Uuid, cancellationToken);
                await copy.WriteAsync(eventIds[i], NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(status, NpgsqlDbType.Text, cancellationToken);
                await copy.WriteAsync(3L, NpgsqlDbType.Bigint, cancellationToken);
                await WriteNullableAsync(copy, final ? null : farFuture, cancellationToken);
                await copy.WriteAsync(created, NpgsqlDbType.TimestampTz, cancellationToken);
                await copy.WriteAsync(0, NpgsqlDbType.Integer, cancellationToken);
                await copy.WriteAsync(0L, NpgsqlDbType.Bigint, cancellationToken);
                await copy.WriteAsync(state, NpgsqlDbType.Jsonb, cancellationToken);
                if (status == "Completed")
                {
                    await copy.WriteAsync($$"""{"receipt": "rcpt-{{i}}", "ok": true}""", NpgsqlDbType.Jsonb, cancellationToken);
                }
                else
                {
                    await copy.WriteNullAsync(cancellationToken);
                }

                if (status == "Failed")
                {
                    await copy.WriteAsync($$"""{"name": "Error", "message": "card declined for ord-{{i}}"}""", NpgsqlDbType.Jsonb, cancellationToken);
                }
                else
                {
                    await copy.WriteNullAsync(cancellationToken);
                }

                await copy.WriteAsync(created, NpgsqlDbType.TimestampTz, cancellationToken);
                await WriteNullableAsync(copy, status == "Queued" ? null : created.AddMilliseconds(3), cancellationToken);
                await WriteNullableAsync(copy, final ? created.AddMilliseconds(40) : null, cancellationToken);
            }

            await copy.CompleteAsync(cancellationToken);
        }

        // The failed attempts of recent failed runs: what the apps page reads for an app's last error.
        await using (var attempts = new NpgsqlCommand("""
            INSERT INTO platform.attempts (run_id, step_id, step_name, attempt, error, started_at, ended_at)
            SELECT u.id, 'step', 'charge', 1, '{"name":"Error","message":"card declined"}'::jsonb, r.ended_at, r.ended_at
              FROM unnest(@ids) AS u(id) JOIN platform.runs r ON r.id = u.id ORDER BY u.id
            """, connection))
        {
            attempts.Parameters.AddWithValue("ids", failedRuns.ToArray());
            await attempts.ExecuteNonQueryAsync(cancellationToken);
        }

        // What autovacuum does to a table that stopped changing: statistics, and the visibility map that lets the
        // capped counts read the (status, id) index without visiting the table.
        await using (var vacuum = new NpgsqlCommand("VACUUM (ANALYZE) platform.runs, platform.events, platform.attempts", connection) { CommandTimeout = 0 })
        {
            await vacuum.ExecuteNonQueryAsync(cancellationToken);
        }

        return slugs;
    }

    private static int AppOf(int function) => function < 4 ? 0 : function < 8 ? 1 : 2;

    private static async Task WriteNullableAsync(NpgsqlBinaryImporter copy, DateTimeOffset? value, CancellationToken cancellationToken)
    {
        if (value is { } v)
        {
            await copy.WriteAsync(v, NpgsqlDbType.TimestampTz, cancellationToken);
        }
        else
        {
            await copy.WriteNullAsync(cancellationToken);
        }
    }

    private static async Task<string> GroupByCountAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT status, count(*) FROM platform.runs GROUP BY status");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        long total = 0;
        while (await reader.ReadAsync(cancellationToken))
        {
            total += reader.GetInt64(1);
        }

        return $"all {total:N0}";
    }

    private static async Task<string> GetAsync(HttpClient http, string path, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(path, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        var rows = body.Split("data-run-id=").Length - 1;
        return $"HTTP {(int)response.StatusCode}, {body.Length / 1024.0:0} KiB{(rows > 0 ? $", {rows} rows" : "")}";
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Platform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Platform.sln not found above {AppContext.BaseDirectory}");
    }
}
