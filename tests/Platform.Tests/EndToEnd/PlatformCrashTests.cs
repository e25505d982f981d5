using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.EndToEnd;

/// <summary>
/// reliability.md A1-small: the platform process is killed with SIGKILL while runs of the real SDK app are in
/// flight, then started again on the same port and database. The checker figures of reliability.md §3.1 are
/// computed from the platform's tables and the app's EXEC_LOG, printed, and written to
/// <c>e2e-results/&lt;test&gt;.json</c> next to the test assembly.
/// </summary>
public sealed class PlatformCrashTests(ITestOutputHelper output) : IDisposable
{
    private const string CrashySlug = InngestNodeApp.AppId + "-crashy";
    private const string TwoStepsSlug = InngestNodeApp.AppId + "-two-steps";
    private static readonly TimeSpan s_recoveryTimeout = TimeSpan.FromSeconds(120);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"platform-e2e-crash-{Guid.NewGuid():N}");
    private readonly int _seed = Random.Shared.Next(1, int.MaxValue);

    [Fact]
    public async Task Kill_WhileRunsSleepAndStep_EveryRunCompletesAndStoredStepsNeverRunAgain()
    {
        const int N = 20;
        InngestNodeApp.EnsureInstalled();
        Directory.CreateDirectory(_directory);
        await using var platform = await PlatformProcess.StartAsync("e2e_crash");
        using var app = await InngestNodeApp.StartAsync(platform.BaseUrl, Path.Combine(_directory, "exec.log"));
        await app.SyncAsync();

        // Events one at a time, each once the previous run has stored its first step: the runs end up spread
        // over every phase (first step, the 3 s sleep, the steps after it) when the first one wakes.
        var ids = Enumerable.Range(0, N).Select(i => $"crashy-{_seed}-{i}").ToList();
        var acked = new List<string>();
        foreach (var id in ids)
        {
            await PlatformHttp.SendEventAsync(platform.Http, "test/crashy", new { }, id);
            acked.Add(id);
            await Eventually.WaitAsync(() => StoredStepCountAsync(platform, "one"), n => n >= acked.Count, PlatformHttp.RunTimeout, "step one of the last run");
        }

        // Kill while the app is executing step "two" (0.5 s) of a run that woke from its sleep, and the platform
        // therefore holds that run's lease and waits for the reply: the other runs are sleeping or waking up.
        var inFlightAtKill = await Eventually.WaitAsync(() => StepsInFlightAsync(platform, app, "two"), n => n >= 1, PlatformHttp.RunTimeout, "a call of step two in flight");
        platform.Kill();

        // The process is dead: what the database holds now is exactly what was stored before the kill.
        var storedBeforeKill = (await StepRowsAsync(platform)).Where(s => s.Op == "StepRun").Select(s => (s.RunId, s.Name)).ToHashSet();
        var atKill = await StatusCountsAsync(platform);
        var leasedAtKill = await platform.ScalarAsync<long>("SELECT count(*) FROM platform.runs WHERE lease_owner IS NOT NULL");
        output.WriteLine($"seed={_seed} at kill: {Describe(atKill)}; leased {leasedAtKill}; StepRun rows stored {storedBeforeKill.Count}");

        var recovery = Stopwatch.StartNew();
        await platform.RestartAsync();
        var healthyAfter = recovery.Elapsed;
        await WaitAllFinalAsync(platform, app, N);
        var recovered = recovery.Elapsed;

        var figures = await CheckAsync(platform, acked, CrashySlug);
        var execs = app.ReadExecLog().Where(e => e.Fn == "crashy").ToList();
        var execCounts = execs.GroupBy(e => (e.RunId, e.Step)).ToDictionary(g => g.Key, g => g.Count());
        var steps = (await StepRowsAsync(platform)).Where(s => s.Op == "StepRun").ToList();
        var storedRerun = storedBeforeKill.Count(k => execCounts.GetValueOrDefault(k) != 1);
        var storedNeverExecuted = steps.Count(s => execCounts.GetValueOrDefault((s.RunId, s.Name)) == 0);
        figures["stored_steps_executed_again"] = storedRerun;
        figures["stored_steps_never_executed"] = storedNeverExecuted;
        figures["step_executions"] = execs.Count;
        figures["step_reexecutions"] = execs.Count - execCounts.Count;
        figures["step_rows_before_kill"] = storedBeforeKill.Count;
        figures["runs_final_at_kill"] = atKill.Where(kv => PlatformHttp.IsFinal(kv.Key)).Sum(kv => kv.Value);
        figures["runs_leased_at_kill"] = leasedAtKill;
        figures["steps_in_flight_at_kill"] = inFlightAtKill;
        figures["healthy_after_restart_s"] = Math.Round(healthyAfter.TotalSeconds, 2);
        figures["recovery_s"] = Math.Round(recovered.TotalSeconds, 2);
        Report(figures);

        Assert.Equal(0, figures["acked_events_lost"]);
        Assert.Equal(0, figures["runs_lost"]);
        Assert.Equal(0, figures["duplicate_runs"]);
        Assert.Equal(0, figures["duplicate_step_rows"]);
        Assert.Equal(0, figures["memo_mismatches"]);
        Assert.Equal(0, figures["writes_after_final"]);
        Assert.Equal(0, storedRerun);
        // The call in flight at the kill is answered to no one: its step runs again (at least once), which shows
        // the kill landed mid-step.
        Assert.True(figures["step_reexecutions"] >= 1, "no step ran twice: the kill did not land while a step was in flight");
        Assert.Equal(0, storedNeverExecuted);
        Assert.Equal(N * 3, steps.Count);
        // reliability.md §3.1 recovery target: lease TTL (HTTP timeout 5 s + 30 s) + sweep interval (1 s) + 30 s.
        Assert.True(recovered <= TimeSpan.FromSeconds(66), $"recovery took {recovered.TotalSeconds:0.0} s");
        Assert.Equal(N, figures["completed"]);
    }

    [Fact]
    public async Task Kill_DuringEventSends_NoAckedEventLostAndNoDuplicateRun()
    {
        const int N = 50;
        const int Senders = 4;
        InngestNodeApp.EnsureInstalled();
        Directory.CreateDirectory(_directory);
        await using var platform = await PlatformProcess.StartAsync("e2e_crash_ingest");
        using var app = await InngestNodeApp.StartAsync(platform.BaseUrl, Path.Combine(_directory, "exec.log"));
        await app.SyncAsync();

        var queue = new ConcurrentQueue<int>(Enumerable.Range(0, N));
        var acked = new ConcurrentBag<string>();
        var retried = new ConcurrentDictionary<string, int>();
        var killed = 0;
        Task? restart = null;
        HashSet<string> storedAtKill = [];
        var recovery = new Stopwatch();
        using var client = new HttpClient { BaseAddress = new Uri(platform.BaseUrl), Timeout = TimeSpan.FromSeconds(10) };

        async Task SendAllAsync()
        {
            while (queue.TryDequeue(out var i))
            {
                var id = $"send-{_seed}-{i}";
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
                while (true)
                {
                    if (await TrySendAsync(client, id, i))
                    {
                        acked.Add(id);
                        break;
                    }

                    retried.AddOrUpdate(id, 1, (_, n) => n + 1);
                    Assert.True(DateTime.UtcNow < deadline, $"event {id} was never acknowledged; platform output:\n{platform.Tail()}");
                    await Task.Delay(100); // A client's retry backoff, not a wait on the test's condition.
                }

                // Half-way, one sender kills the platform while the others have requests in flight.
                if (acked.Count >= N / 2 && Interlocked.Exchange(ref killed, 1) == 0)
                {
                    platform.Kill();
                    storedAtKill = (await platform.QueryAsync("SELECT event_id FROM platform.events", r => r.GetString(0))).ToHashSet();
                    recovery.Start();
                    restart = platform.RestartAsync();
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Senders).Select(_ => Task.Run(SendAllAsync)));
        Assert.Equal(1, killed);
        await restart!;
        await WaitAllFinalAsync(platform, app, N, TwoStepsSlug);
        var recovered = recovery.Elapsed;

        var figures = await CheckAsync(platform, [.. acked], TwoStepsSlug);
        figures["acked"] = acked.Count;
        figures["sends_retried"] = retried.Count;
        figures["send_failures"] = retried.Values.Sum();
        // Retried ids that the killed process had stored without answering: the dedupe window had to catch these.
        figures["retried_after_commit"] = retried.Keys.Count(storedAtKill.Contains);
        figures["events_stored_at_kill"] = storedAtKill.Count;
        figures["recovery_s"] = Math.Round(recovered.TotalSeconds, 2);
        Report(figures);

        Assert.Equal(N, acked.Distinct().Count());
        Assert.Equal(0, figures["acked_events_lost"]);
        Assert.Equal(0, figures["duplicate_events"]);
        Assert.Equal(0, figures["duplicate_runs"]);
        Assert.Equal(0, figures["runs_lost"]);
        Assert.Equal(0, figures["memo_mismatches"]);
        Assert.Equal(N, figures["completed"]);
    }

    public void Dispose()
    {
        // The platform and the Node app are disposed (killed) by their using declarations, also on failure.
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private static async Task<bool> TrySendAsync(HttpClient client, string id, int i)
    {
        try
        {
            using var response = await client.PostAsJsonAsync("/e/test-key", new[] { new { name = "test/two-steps", data = new { x = i }, id } });
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            return false; // Unacknowledged: send again with the same id.
        }
    }

    /// <summary>Runs whose step body the app has started (EXEC_LOG) but whose step row is not stored.</summary>
    private static async Task<int> StepsInFlightAsync(PlatformProcess platform, InngestNodeApp app, string step)
    {
        var started = app.ReadExecLog().Where(e => e.Step == step).Select(e => e.RunId).ToHashSet();
        if (started.Count > 0)
        {
            started.ExceptWith(await platform.QueryAsync("SELECT run_id FROM platform.steps WHERE name = @name", r => r.GetString(0), ("name", step)));
        }

        return started.Count;
    }

    private static Task<long> StoredStepCountAsync(PlatformProcess platform, string name) =>
        platform.ScalarAsync<long>("SELECT count(*) FROM platform.steps WHERE name = @name", ("name", name));

    private static Task<List<(string RunId, string Name, string Op)>> StepRowsAsync(PlatformProcess platform) =>
        platform.QueryAsync("SELECT run_id, name, op FROM platform.steps", r => (r.GetString(0), r.GetString(1), r.GetString(2)));

    private static async Task<Dictionary<string, long>> StatusCountsAsync(PlatformProcess platform) =>
        (await platform.QueryAsync("SELECT status, count(*) FROM platform.runs GROUP BY status", r => (r.GetString(0), r.GetInt64(1))))
            .ToDictionary(x => x.Item1, x => x.Item2);

    private static string Describe(Dictionary<string, long> counts) =>
        string.Join(", ", counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}"));

    private async Task WaitAllFinalAsync(PlatformProcess platform, InngestNodeApp app, int n, string slug = CrashySlug)
    {
        try
        {
            await Eventually.WaitAsync(
                () => platform.ScalarAsync<long>(
                    "SELECT count(*) FROM platform.runs r JOIN platform.functions f ON f.id = r.function_id " +
                    "WHERE f.slug = @slug AND r.status IN ('Completed', 'Failed', 'Cancelled')", ("slug", slug)),
                final => final >= n,
                s_recoveryTimeout,
                $"all {n} runs of {slug} to end after the restart");
        }
        catch (TimeoutException)
        {
            output.WriteLine($"runs: {Describe(await StatusCountsAsync(platform))}");
            output.WriteLine($"platform output:\n{platform.Tail()}");
            output.WriteLine($"app output:\n{app.Tail()}");
            throw;
        }
    }

    /// <summary>The reliability.md §3.1 figures that the platform's tables alone can tell, for the acknowledged ids.</summary>
    private static async Task<Dictionary<string, double>> CheckAsync(PlatformProcess platform, IReadOnlyCollection<string> acked, string slug)
    {
        var stored = (await platform.QueryAsync("SELECT event_id FROM platform.events", r => r.GetString(0))).ToList();
        var runs = await platform.QueryAsync(
            """
            SELECT e.event_id, r.status, r.output::text
              FROM platform.runs r
              JOIN platform.functions f ON f.id = r.function_id
              JOIN platform.events e ON e.id = r.event_id
             WHERE f.slug = @slug
            """,
            r => (EventId: r.GetString(0), Status: r.GetString(1), Output: r.IsDBNull(2) ? null : r.GetString(2)),
            ("slug", slug));
        var runsByEvent = runs.GroupBy(r => r.EventId).ToDictionary(g => g.Key, g => g.ToList());
        var storedSet = stored.ToHashSet();

        return new Dictionary<string, double>
        {
            ["events_acked"] = acked.Count,
            ["acked_events_lost"] = acked.Count(id => !storedSet.Contains(id)),
            ["duplicate_events"] = stored.Count - storedSet.Count,
            ["runs_lost"] = acked.Count(id => !runsByEvent.TryGetValue(id, out var rs) || !rs.Any(r => PlatformHttp.IsFinal(r.Status))),
            ["duplicate_runs"] = runsByEvent.Values.Sum(rs => rs.Count - 1),
            ["duplicate_step_rows"] = await platform.ScalarAsync<long>(
                "SELECT count(*) - count(DISTINCT (run_id, step_id)) + count(*) - count(DISTINCT (run_id, name)) FROM platform.steps"),
            ["memo_mismatches"] = runs.Count(r => r.Status == "Completed" && !OutputAsExpected(slug, r.EventId, r.Output)),
            ["writes_after_final"] = await platform.ScalarAsync<long>(
                "SELECT count(*) FROM platform.steps s JOIN platform.runs r ON r.id = s.run_id WHERE r.ended_at IS NOT NULL AND s.completed_at > r.ended_at"),
            ["completed"] = runs.Count(r => r.Status == "Completed"),
            ["work_done"] = runs.Count == 0 ? 0 : Math.Round((double)runs.Count(r => r.Status == "Completed") / acked.Count, 3),
        };
    }

    /// <summary>The output each run must end with when every step saw the memoized outputs of the steps before it.</summary>
    private static bool OutputAsExpected(string slug, string eventId, string? output)
    {
        if (output is null)
        {
            return false;
        }

        using var doc = JsonDocument.Parse(output);
        var o = doc.RootElement;
        if (slug == CrashySlug)
        {
            return o.GetProperty("result").GetString() == "one|two|three";
        }

        var x = eventId[(eventId.LastIndexOf('-') + 1)..];
        return o.GetProperty("a").GetString() == $"A:{x}" && o.GetProperty("b").GetString() == $"A:{x}|B";
    }

    private void Report(Dictionary<string, double> figures, [System.Runtime.CompilerServices.CallerMemberName] string test = "")
    {
        var result = new SortedDictionary<string, object>(StringComparer.Ordinal) { ["test"] = test, ["seed"] = _seed };
        foreach (var (key, value) in figures)
        {
            result[key] = value;
        }

        var json = JsonSerializer.Serialize(result);
        output.WriteLine($"figures {json}");
        var folder = Path.Combine(AppContext.BaseDirectory, "e2e-results");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, $"{test}.json"), json);
    }
}
