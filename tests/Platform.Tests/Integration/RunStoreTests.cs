using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;
using Platform.Executor.Storage;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Integration;

public sealed class RunStoreFixture() : PlatformFixture("runstore")
{
    protected override Task OnStartedAsync(PlatformApp platform) =>
        Api.RegisterAsync(platform, "store", Api.UnreachableAppUrl(), new FunctionSpec("fn", """{"event":"test/store"}"""));
}

/// <summary>
/// The run store's fence against real PostgreSQL (reliability.md §2.4, §2.5, B2/B3): one claim at a time, a
/// lease taken over only once it expired, and a worker that lost its lease (takeover or cancel) writes nothing.
/// A step id is stored once; a later writer of the same id reads the first output back.
/// </summary>
public sealed class RunStoreTests(RunStoreFixture fixture, ITestOutputHelper output) : IClassFixture<RunStoreFixture>
{
    private static readonly TimeSpan s_ttl = TimeSpan.FromSeconds(30);
    private readonly PlatformApp _platform = fixture.Platform;
    private readonly RunStore _store = fixture.Platform.GetRequiredService<RunStore>();

    [Fact]
    public async Task ClaimAsync_SixteenConcurrentClaimsOnOneDueRun_ExactlyOneWins()
    {
        var runs = await CreateRunsAsync(10);
        var winnersPerRun = new List<int>();
        foreach (var runId in runs)
        {
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var claims = Enumerable.Range(0, 16).Select(async i =>
            {
                await start.Task;
                return await _store.ClaimAsync(runId, $"claimer-{i}", s_ttl, CancellationToken.None);
            }).ToList();
            start.SetResult();
            var results = await Task.WhenAll(claims);
            winnersPerRun.Add(results.Count(r => r is not null));
        }

        output.WriteLine($"16 concurrent claims on each of {runs.Count} due runs: winners per run = [{string.Join(",", winnersPerRun)}]");
        Assert.All(winnersPerRun, w => Assert.Equal(1, w));
    }

    [Fact]
    public async Task ClaimAsync_LiveLeaseThenExpired_RefusedThenTakenOverAndOldOwnerFenced()
    {
        var runId = (await CreateRunsAsync(1)).Single();
        var a = await _store.ClaimAsync(runId, "owner-a", s_ttl, CancellationToken.None);
        Assert.NotNull(a);

        var whileLive = await _store.ClaimAsync(runId, "owner-b", s_ttl, CancellationToken.None);
        Assert.Null(whileLive);

        await ExpireLeaseAsync(runId);
        var b = await _store.ClaimAsync(runId, "owner-b", s_ttl, CancellationToken.None);
        Assert.NotNull(b);
        Assert.True(b.Version > a.Version, $"takeover version {b.Version} must exceed {a.Version}");

        // The old owner comes back from a slow call: its commit is fenced out and writes nothing.
        var stale = await _store.CommitAsync(a, StepCommit(a, Disposition.Continue, ("s1", Output("from-a"))), s_ttl, CancellationToken.None);
        var rowsAfterStale = await StepRowsAsync(runId);
        var fresh = await _store.CommitAsync(b, StepCommit(b, Disposition.Continue, ("s1", Output("from-b"))), s_ttl, CancellationToken.None);
        var rowsAfterFresh = await StepRowsAsync(runId);
        output.WriteLine($"claim while live: refused; after expiry: taken over (v{a.Version} -> v{b.Version}); stale commit committed={stale.Committed} rows={rowsAfterStale.Count}; new owner committed={fresh.Committed} rows=[{string.Join(",", rowsAfterFresh)}]");

        Assert.False(stale.Committed);
        Assert.Empty(stale.Stored);
        Assert.Empty(rowsAfterStale);
        Assert.True(fresh.Committed);
        Assert.Equal([$"s1=from-b"], rowsAfterFresh);
        Assert.Equal("owner-b", await _platform.ScalarAsync<string>("SELECT lease_owner FROM platform.runs WHERE id = @id", ("id", runId)));
    }

    [Fact]
    public async Task CancelAsync_WorkerMidFlight_CommitFencedOut()
    {
        var runId = (await CreateRunsAsync(1)).Single();
        var worker = await _store.ClaimAsync(runId, "worker", s_ttl, CancellationToken.None);
        Assert.NotNull(worker);

        var commands = new RunCommands(_platform.GetRequiredService<PlatformDatabase>());
        var (found, cancelled, status) = await commands.CancelAsync(runId, CancellationToken.None);
        var result = await _store.CommitAsync(worker, StepCommit(worker, Disposition.Continue, ("s1", Output("after-cancel"))), s_ttl, CancellationToken.None);
        var final = await _store.CommitAsync(worker, FinalCommit(worker), s_ttl, CancellationToken.None);
        var reclaim = await _store.ClaimAsync(runId, "another", s_ttl, CancellationToken.None);
        var rows = await StepRowsAsync(runId);
        var stored = await _platform.ScalarAsync<string>("SELECT status FROM platform.runs WHERE id = @id", ("id", runId));
        output.WriteLine($"cancel found={found} cancelled={cancelled} status={status}; worker step commit committed={result.Committed}, final commit committed={final.Committed}; rows={rows.Count}; status now {stored}; reclaim={(reclaim is null ? "refused" : "granted")}");

        Assert.True(found);
        Assert.True(cancelled);
        Assert.False(result.Committed);
        Assert.False(final.Committed);
        Assert.Empty(rows);
        Assert.Equal("Cancelled", stored);
        Assert.Null(reclaim);
    }

    [Fact]
    public async Task CommitAsync_SameStepFromTwoClaimsAroundTakeovers_FirstOutputWins()
    {
        var runId = (await CreateRunsAsync(1)).Single();
        var a = await _store.ClaimAsync(runId, "owner-a", s_ttl, CancellationToken.None);
        Assert.NotNull(a);
        await ExpireLeaseAsync(runId);
        var b = await _store.ClaimAsync(runId, "owner-b", s_ttl, CancellationToken.None);
        Assert.NotNull(b);

        // Both holders commit the same step at the same moment: only the current owner's write lands.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var commitA = Task.Run(async () =>
        {
            await start.Task;
            return await _store.CommitAsync(a, StepCommit(a, Disposition.Continue, ("s1", Output("from-a"))), s_ttl, CancellationToken.None);
        });
        var commitB = Task.Run(async () =>
        {
            await start.Task;
            return await _store.CommitAsync(b, StepCommit(b, Disposition.Continue, ("s1", Output("from-b"))), s_ttl, CancellationToken.None);
        });
        start.SetResult();
        var (resultA, resultB) = (await commitA, await commitB);
        Assert.False(resultA.Committed);
        Assert.True(resultB.Committed);
        Assert.Equal([$"s1=from-b"], await StepRowsAsync(runId));
        var hashBefore = await _platform.ScalarAsync<string>("SELECT encode(output_sha256, 'hex') FROM platform.steps WHERE run_id = @id", ("id", runId));

        // B stalls; C takes over and, like a duplicate executor that ran the step again, commits s1 with other
        // bytes. The row is not replaced: C's commit reports the conflict and hands back B's output.
        await ExpireLeaseAsync(runId);
        var c = await _store.ClaimAsync(runId, "owner-c", s_ttl, CancellationToken.None);
        Assert.NotNull(c);
        Assert.Equal("from-b", Data(c.Memo["s1"]));
        var resultC = await _store.CommitAsync(c, StepCommit(c, Disposition.Continue, ("s1", Output("from-c")), ("s2", Output("c-two"))), s_ttl, CancellationToken.None);
        var rows = await StepRowsAsync(runId);
        var hashAfter = await _platform.ScalarAsync<string>("SELECT encode(output_sha256, 'hex') FROM platform.steps WHERE run_id = @id AND step_id = 's1'", ("id", runId));
        output.WriteLine($"A committed={resultA.Committed}, B committed={resultB.Committed}; C committed={resultC.Committed} conflicts=[{string.Join(",", resultC.Conflicts)}] stored s1={Data(resultC.Stored["s1"])}; rows=[{string.Join(",", rows)}]");

        Assert.True(resultC.Committed);
        Assert.Equal(["s1"], resultC.Conflicts);
        Assert.Equal("from-b", Data(resultC.Stored["s1"]));
        Assert.Equal("c-two", Data(resultC.Stored["s2"]));
        Assert.Equal(["s1=from-b", "s2=c-two"], rows);
        Assert.Equal(hashBefore, hashAfter);
    }

    [Fact]
    public async Task CommitAsync_RacingWorkersOverSeededIterations_OneRowPerStepAndOneOutput()
    {
        const int Iterations = 200;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("PLATFORM_TEST_SEED"), out var s) ? s : Random.Shared.Next();
        output.WriteLine($"seed={seed} (set PLATFORM_TEST_SEED to replay)");
        var rng = new Random(seed);
        var runs = await CreateRunsAsync(Iterations);

        long claims = 0, refused = 0, gaveUp = 0, commits = 0, stale = 0, conflicts = 0;
        var seen = new ConcurrentBag<(string Run, string Step, string? Data)>();
        var committedWorkers = new ConcurrentDictionary<(string Run, int Worker), bool>();
        // Each worker's plan comes from the seed: lease length, how long it "calls the app", and whether it keeps
        // the lease (Continue) or releases the run (Suspend) when it commits. Runs are independent, so a few
        // iterations go at once to keep the test short; the workers within one iteration race each other.
        var plans = runs.Select(_ => Enumerable.Range(0, rng.Next(2, 17))
                .Select(t => (Worker: t, TtlMs: rng.Next(1, 12), WorkMs: rng.Next(0, 8), Release: rng.Next(2) == 0))
                .ToList())
            .ToList();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, Iterations), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (iteration, _) =>
        {
            var runId = runs[iteration];
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var tasks = plans[iteration].Select(async plan =>
            {
                await start.Task;
                ClaimedRun? run = null;
                for (var attempt = 0; attempt < 100 && run is null; attempt++)
                {
                    run = await _store.ClaimAsync(runId, $"w{plan.Worker}", TimeSpan.FromMilliseconds(plan.TtlMs), CancellationToken.None);
                    if (run is null)
                    {
                        Interlocked.Increment(ref refused);
                        await Task.Delay(2);
                    }
                }

                if (run is null)
                {
                    Interlocked.Increment(ref gaveUp);
                    return;
                }

                Interlocked.Increment(ref claims);
                await Task.Delay(plan.WorkMs);
                var result = await _store.CommitAsync(run,
                    StepCommit(run, plan.Release ? Disposition.Suspend : Disposition.Continue,
                        ("s1", Output($"w{plan.Worker}-one")), ("s2", Output($"w{plan.Worker}-two"))),
                    TimeSpan.FromMilliseconds(plan.TtlMs), CancellationToken.None);
                if (!result.Committed)
                {
                    Interlocked.Increment(ref stale);
                    return;
                }

                Interlocked.Increment(ref commits);
                committedWorkers[(runId, plan.Worker)] = true;
                if (result.Conflicts.Count > 0)
                {
                    Interlocked.Increment(ref conflicts);
                }

                foreach (var (step, stored) in result.Stored)
                {
                    seen.Add((runId, step, Data(stored)));
                }
            }).ToList();
            start.SetResult();
            await Task.WhenAll(tasks);
        });
        var workers = plans.Sum(p => p.Count);

        var rows = (await Api.ListAsync(_platform, """
                SELECT run_id || '|' || step_id || '|' || (output->>'data') FROM platform.steps WHERE run_id = ANY(@runs)
                """, ("runs", runs.ToArray())))
            .Select(r => r.Split('|') is [var run, var step, var data] ? (Run: run, Step: step, Data: data) : default)
            .ToDictionary(r => (r.Run, r.Step), r => r.Data);
        // Every committed worker goes on with what is stored (memo_mismatches = 0)...
        var mismatches = seen.Where(x => rows.GetValueOrDefault((x.Run, x.Step)) != x.Data).ToList();
        // ...and no stored output comes from a worker whose commit was refused (a write through a lost lease).
        // Outputs read "w<worker>-one"/"w<worker>-two".
        var fencedWrites = rows.Count(r => !committedWorkers.ContainsKey(
            (r.Key.Run, int.Parse(r.Value[1..r.Value.IndexOf('-')], System.Globalization.CultureInfo.InvariantCulture))));
        var rowsPerStep = await Api.ListAsync(_platform, """
            SELECT count(*) FROM platform.steps WHERE run_id = ANY(@runs) GROUP BY run_id, step_id
            """, ("runs", runs.ToArray()));
        var stepsStored = await _platform.ScalarAsync<long>("SELECT count(*) FROM platform.steps WHERE run_id = ANY(@runs)", ("runs", runs.ToArray()));
        output.WriteLine($"B3: iterations={Iterations} workers={workers} claims={claims} claims_refused={refused} gave_up={gaveUp} commits={commits} stale_lease_rejections={stale} conflicting_commits={conflicts} step_rows={stepsStored} max_rows_per_step={rowsPerStep.Select(long.Parse).DefaultIfEmpty(0).Max()} memo_mismatches={mismatches.Count} writes_by_fenced_workers={fencedWrites} elapsed={clock.Elapsed.TotalSeconds:0.0}s");

        Assert.Empty(mismatches);
        Assert.Equal(0, fencedWrites);
        Assert.All(rowsPerStep, r => Assert.Equal("1", r));
        // Every run got both steps stored once (the last claimer of each run commits unopposed).
        Assert.Equal(Iterations * 2, stepsStored);
        Assert.True(stale > 0, "no stale-lease rejection happened: the race did not exercise the fence");
        Assert.True(conflicts > 0, "no commit found its step already stored: the race did not exercise the conflict path");
    }

    private async Task<List<string>> CreateRunsAsync(int count)
    {
        var tag = Guid.NewGuid().ToString("N");
        var body = "[" + string.Join(",", Enumerable.Range(0, count).Select(i => $$"""{"name":"test/store","id":"{{tag}}-{{i}}"}""")) + "]";
        var reply = await Api.SendAsync(_platform, body);
        Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());
        var runs = await Api.ListAsync(_platform, """
            SELECT r.id FROM platform.runs r JOIN platform.events e ON e.id = r.event_id
             WHERE e.event_id LIKE @tag || '-%' ORDER BY r.id
            """, ("tag", tag));
        Assert.Equal(count, runs.Count);
        return runs;
    }

    private Task ExpireLeaseAsync(string runId) =>
        Api.ExecuteAsync(_platform, "UPDATE platform.runs SET lease_until = now() - interval '1 second' WHERE id = @id", ("id", runId));

    /// <summary>The run's step rows as <c>step_id=data</c>, sorted.</summary>
    private async Task<List<string>> StepRowsAsync(string runId) =>
        (await Api.ListAsync(_platform, "SELECT step_id || '|' || output::text FROM platform.steps WHERE run_id = @id ORDER BY step_id", ("id", runId)))
        .Select(r => r.Split('|', 2) is [var step, var json] ? $"{step}={Data(json)}" : r)
        .ToList();

    private static string Output(string value) => JsonSerializer.Serialize(new { data = value });

    private static string? Data(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("data").GetString();
    }

    private static CommitRequest StepCommit(ClaimedRun run, Disposition disposition, params (string StepId, string Output)[] steps) =>
        new(new Transition(
                run.State,
                steps.Select(s => new MemoWrite(s.StepId, s.StepId, null, OpNames.StepRun, s.Output, 1, null)).ToList(),
                [],
                [],
                null),
            disposition,
            RunStatus.Running,
            // Released runs are due again at once (greatest(until, now())).
            disposition == Disposition.Suspend ? DateTimeOffset.UnixEpoch : null);

    private static CommitRequest FinalCommit(ClaimedRun run) =>
        new(new Transition(run.State with { Items = [] }, [], [], [], new Completion(RunStatus.Completed, """{"ok":true}""", null)),
            Disposition.Final,
            RunStatus.Completed,
            null);
}
