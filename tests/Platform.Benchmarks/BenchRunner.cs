using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;

namespace Platform.Benchmarks;

/// <summary>
/// Starts everything (database, platform child process, in-process app), measures figures (1)-(4), prints the table
/// and writes it as JSON under <c>artifacts/bench/</c>, then stops what it started.
/// </summary>
public static class BenchRunner
{
#if DEBUG
    private static readonly string s_configuration = "Debug";
#else
    private static readonly string s_configuration = "Release";
#endif

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.Now;
        var total = Stopwatch.StartNew();
        var repoRoot = FindRepoRoot();
        var stamp = startedAt.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var outDir = Path.Combine(repoRoot, "artifacts", "bench");
        var warnings = new List<string>();
        var progress = Console.Out;
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
        var logger = loggerFactory.CreateLogger("Platform.Benchmarks");

        if (s_configuration != "Release")
        {
            warnings.Add("Built in Debug: run with -c Release for figures worth comparing");
        }

        progress.WriteLine($"Benchmark ({(options.Quick ? "quick" : "full")}, {s_configuration}); load average {CpuSampler.LoadAverage()}");
        await using var database = await BenchDatabase.CreateAsync(logger, cancellationToken);
        progress.WriteLine($"Database: {database.Source}");
        var platformLog = Path.Combine(outDir, $"{stamp}-platform.log");
        await using var platform = await PlatformProcess.StartAsync(repoRoot, s_configuration, database.ConnectionString, platformLog, cancellationToken);
        // If the benchmark dies some other way, do not leave the platform running.
        EventHandler killOnExit = (_, _) => platform.Kill();
        AppDomain.CurrentDomain.ProcessExit += killOnExit;
        try
        {
            progress.WriteLine($"Platform: pid {platform.Pid} at {platform.BaseUrl} ({PlatformProcess.AssemblyPath(repoRoot, s_configuration)}), log {platformLog}");
            await using var app = await NoopApp.StartAsync(cancellationToken);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 128, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
            {
                BaseAddress = new Uri(platform.BaseUrl),
                Timeout = TimeSpan.FromSeconds(60),
            };
            await app.RegisterAsync(http, cancellationToken);
            progress.WriteLine($"App: {app.Url} registered as {NoopApp.FunctionSlug}");

            var cpu = new CpuSampler(platform.Pid);
            var scenarios = new Scenarios(http, app, cpu, progress);
            var cpuByPhase = new Dictionary<string, CpuUse>(StringComparer.Ordinal);
            var dbByPhase = new Dictionary<string, PhaseDbUse>(StringComparer.Ordinal);

            async Task<T> PhaseAsync<T>(string name, Func<Task<T>> run)
            {
                progress.WriteLine($"{name} ...");
                var (db0, calls0) = (await database.CountersAsync(cancellationToken), app.Calls);
                var before = cpu.Take();
                var result = await run();
                var use = CpuSampler.Between(before, cpu.Take());
                var calls = app.Calls - calls0;
                if (calls > 0)
                {
                    // Statistics reach pg_stat_* when a backend goes idle or at most a second later.
                    await Task.Delay(TimeSpan.FromSeconds(1.1), cancellationToken);
                }

                var db = (await database.CountersAsync(cancellationToken)).Minus(db0);
                cpuByPhase[name] = use;
                dbByPhase[name] = new PhaseDbUse(calls, db);
                progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  cpu (cores): machine {use.Machine:0.00} = platform {use.Platform:0.00} + bench {use.Bench:0.00} + postgres {use.Postgres:0.00} + other {use.Other:0.00}; load {use.LoadAverage}"));
                if (calls > 0)
                {
                    progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  db per app call: {(double)db.Transactions / calls:0.00} transactions, {(double)db.PlatformRows / calls:0.00} platform rows, {(double)db.HangfireRows / calls:0.00} hangfire rows written"));
                }

                return result;
            }

            await PhaseAsync("warm-up", async () =>
            {
                await scenarios.WarmUpAsync(options.WarmupRuns, cancellationToken);
                return 0;
            });
            var latency = await PhaseAsync("(3) event -> first step", () => scenarios.FirstStepLatencyAsync(options.LatencyEvents, cancellationToken));
            var breakdown = await database.DispatchBreakdownAsync(1, cancellationToken);
            if (breakdown is not null)
            {
                progress.WriteLine("  dispatch by the database clock, p50/p90 ms: " + string.Join("; ", breakdown.Select(b =>
                    string.Create(CultureInfo.InvariantCulture, $"{b.Key} {b.Value.P50:0.0}/{b.Value.P90:0.0}"))));
            }

            var overhead = new List<OverheadResult>();
            foreach (var plan in options.Chains)
            {
                overhead.Add(await PhaseAsync($"(1) overhead, {plan.Steps}-step chain", () => scenarios.OverheadAsync(plan, cancellationToken)));
            }

            var throughput = await PhaseAsync("(2) throughput", () => scenarios.ThroughputAsync(
                options.InFlight, options.ThroughputStepsPerRun, options.ThroughputRamp, options.ThroughputWindow, cancellationToken));
            var batches = await PhaseAsync("(4) ingest, batches", () => scenarios.IngestAsync(
                options.IngestBatchSize, options.IngestSenders, options.IngestWindow, cancellationToken));
            var single = await PhaseAsync("(4) ingest, single events", () => scenarios.IngestAsync(
                1, options.IngestSenders, options.SingleIngestWindow, cancellationToken));

            var (runs, failedAttempts) = await database.RunCountsAsync(cancellationToken);
            var notCompleted = runs.Where(r => r.Key != "Completed").Sum(r => r.Value);
            if (notCompleted > 0)
            {
                warnings.Add($"{notCompleted} runs did not complete: {string.Join(", ", runs.Select(r => $"{r.Key} {r.Value}"))}");
            }

            if (failedAttempts > 0)
            {
                warnings.Add($"{failedAttempts} failed attempts were recorded (see the platform log)");
            }

            var repeated = overhead.Sum(o => o.RepeatedCalls);
            if (repeated > 0)
            {
                warnings.Add($"{repeated} calls repeated a step already run (duplicate drives or retries) in figure (1)");
            }

            if (app.Errors > 0)
            {
                warnings.Add($"the app could not read {app.Errors} call requests");
            }

            var ten = overhead.FirstOrDefault(o => o.Steps == 10);
            var thousand = overhead.FirstOrDefault(o => o.Steps == 1000);
            double? ratio = ten is not null && thousand is not null ? Math.Round(thousand.PerStepMs.P50 / ten.PerStepMs.P50, 3) : null;
            double? ratioAfterDispatch = ten is not null && thousand is not null
                ? Math.Round(thousand.PerStepAfterDispatchMs.P50 / ten.PerStepAfterDispatchMs.P50, 3)
                : null;
            var rows = Report.Rows(overhead, ratio, ratioAfterDispatch, throughput, latency, breakdown, batches, single);
            var report = new BenchReport(
                startedAt, Math.Round(total.Elapsed.TotalSeconds, 1), options.Quick, s_configuration, await CommitAsync(repoRoot),
                Machine(), database.Source, await database.SettingsAsync(cancellationToken), rows, overhead, ratio, ratioAfterDispatch, throughput, latency, breakdown,
                batches, single, cpuByPhase, dbByPhase, runs, failedAttempts, repeated, warnings);

            progress.WriteLine();
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Results ({(options.Quick ? "quick" : "full")}, {report.DurationSeconds:0} s, PostgreSQL {report.DatabaseSettings["server_version"]} fsync={report.DatabaseSettings["fsync"]} synchronous_commit={report.DatabaseSettings["synchronous_commit"]} tls={report.DatabaseSettings["connection_tls"]}, load average {CpuSampler.LoadAverage()}):"));
            progress.WriteLine(Report.Table(rows));
            foreach (var warning in warnings)
            {
                progress.WriteLine($"WARNING: {warning}");
            }

            Directory.CreateDirectory(outDir);
            var jsonPath = Path.Combine(outDir, $"{stamp}.json");
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(report, s_json), cancellationToken);
            progress.WriteLine($"Written to {jsonPath}");
            return 0;
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= killOnExit;
        }
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

    private static Dictionary<string, string> Machine()
    {
        var machine = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["cores"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            ["os"] = RuntimeInformation.OSDescription,
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["loadAverageAtEnd"] = CpuSampler.LoadAverage(),
        };
        try
        {
            machine["cpu"] = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        }
        catch (IOException)
        {
            machine["cpu"] = "?";
        }

        return machine;
    }

    private static async Task<string> CommitAsync(string repoRoot)
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git")
            {
                ArgumentList = { "-C", repoRoot, "describe", "--always", "--dirty" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            var text = await git!.StandardOutput.ReadToEndAsync();
            await git.WaitForExitAsync();
            return text.Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "?";
        }
    }
}
