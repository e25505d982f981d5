using System.Text.Json;
using Npgsql;
using Platform.Executor.Events;
using Platform.Executor.Runs;
using Platform.Executor.Scheduling;
using Platform.Tests.Infrastructure;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;
using Xunit.Abstractions;

namespace Platform.Tests.Integration;

/// <summary>
/// The sweeper against real PostgreSQL and Hangfire (reliability.md §2.7, A4 "after commit, before enqueue"):
/// a run whose dispatch was lost is found and driven to the end; a run that never makes progress is failed
/// instead of looping; the wake-up pass hands out exactly the runs that are due and free; and only one process
/// sweeps at a time. Each test calls the passes itself: the background loops only run once, at start.
/// </summary>
public sealed class SweeperTests(ITestOutputHelper output)
{
    private const long SweepLockKey = 0x5357454550; // Sweeper's "SWEEP" advisory lock

    [Fact]
    public async Task SweepOnceAsync_RunWhoseDispatchWasLost_RedispatchedAndCompleted()
    {
        using var app = StartApp();
        await using var platform = await PlatformApp.StartAsync("sweep_lost", Settings(workers: 2));
        await Api.RegisterAsync(platform, "sweep", app.Urls[0] + "/api/inngest", new FunctionSpec("fn", """{"event":"test/sweep"}"""));

        // Committed by ingest, then the process died before handing the run to Hangfire: due for a while,
        // dispatched long ago (so the wake-up pass, which only looks at fresh timers, leaves it to the sweep).
        var runId = await InsertRunAsync(platform, "Queued", wakeIn: TimeSpan.FromMinutes(-1), dispatchedIn: TimeSpan.FromSeconds(-30));
        var jobsBefore = await HangfireJobsForAsync(platform, runId);

        var redispatched = await platform.GetRequiredService<Sweeper>().SweepOnceAsync(CancellationToken.None);
        var status = await Eventually.WaitAsync(
            () => platform.ScalarAsync<string>("SELECT status FROM platform.runs WHERE id = @id", ("id", runId)),
            s => s is "Completed" or "Failed", TimeSpan.FromSeconds(30), $"run {runId} to finish");
        var runOutput = await platform.ScalarAsync<string>("SELECT output::text FROM platform.runs WHERE id = @id", ("id", runId));
        var calls = app.LogEntries.Count(e => e.RequestMessage.Url.Contains("fnId=sweep-fn", StringComparison.Ordinal));
        output.WriteLine($"hangfire jobs before sweep={jobsBefore}; SweepOnceAsync re-dispatched {redispatched}; run {status} with output {runOutput} after {calls} app call(s)");

        Assert.Equal(0, jobsBefore);
        Assert.Equal(1, redispatched);
        Assert.Equal("Completed", status);
        Assert.True(JsonDocument.Parse(runOutput!).RootElement.GetProperty("ok").GetBoolean());
        Assert.True(calls >= 1);
    }

    [Fact]
    public async Task SweepOnceAsync_RunOverMaxRecoveries_FailedWithStuckRunErrorAndWaitsDeleted()
    {
        await using var platform = await PlatformApp.StartAsync("sweep_stuck", Settings(workers: 0, maxRecoveries: 3));
        await Api.RegisterAsync(platform, "sweep", Api.UnreachableAppUrl(), new FunctionSpec("fn", """{"event":"test/sweep"}"""));
        var stuck = await InsertRunAsync(platform, "Waiting", TimeSpan.FromMinutes(-1), TimeSpan.FromSeconds(-30), recoveries: 3);
        var alive = await InsertRunAsync(platform, "Waiting", TimeSpan.FromMinutes(-1), TimeSpan.FromSeconds(-30), recoveries: 2);
        foreach (var run in new[] { stuck, alive })
        {
            await Api.ExecuteAsync(platform, """
                INSERT INTO platform.waits (id, run_id, step_id, event_name, created_at, expires_at)
                VALUES (gen_random_uuid(), @run, 'wait-1', 'test/never', now(), now() + interval '1 hour')
                """, ("run", run));
        }

        var redispatched = await platform.GetRequiredService<Sweeper>().SweepOnceAsync(CancellationToken.None);
        var stuckRow = await RowAsync(platform, stuck);
        var aliveRow = await RowAsync(platform, alive);
        var stuckWaits = await platform.ScalarAsync<long>("SELECT count(*) FROM platform.waits WHERE run_id = @id", ("id", stuck));
        var aliveWaits = await platform.ScalarAsync<long>("SELECT count(*) FROM platform.waits WHERE run_id = @id", ("id", alive));
        output.WriteLine($"MaxRecoveries=3: re-dispatched={redispatched}; stuck run: {stuckRow}, waits={stuckWaits}; run with 2 recoveries: {aliveRow}, waits={aliveWaits}");

        Assert.Equal(1, redispatched);
        Assert.Equal("Failed", stuckRow.Status);
        Assert.Equal("StuckRunError", stuckRow.ErrorName);
        Assert.True(stuckRow.Ended);
        Assert.Equal(0, stuckWaits);
        Assert.Equal("Waiting", aliveRow.Status);
        Assert.Equal(3, aliveRow.Recoveries);
        Assert.Equal(1, aliveWaits);
    }

    [Fact]
    public async Task WakeDueAsync_DueFutureAndLeasedRuns_DispatchesOnlyTheDueOneOnce()
    {
        await using var platform = await PlatformApp.StartAsync("sweep_wake", Settings(workers: 0));
        await Api.RegisterAsync(platform, "sweep", Api.UnreachableAppUrl(), new FunctionSpec("fn", """{"event":"test/sweep"}"""));
        var due = await InsertRunAsync(platform, "Sleeping", TimeSpan.FromSeconds(-1), TimeSpan.FromSeconds(-10));
        var future = await InsertRunAsync(platform, "Sleeping", TimeSpan.FromHours(1), TimeSpan.FromSeconds(-10));
        var leased = await InsertRunAsync(platform, "Running", TimeSpan.FromSeconds(-1), TimeSpan.FromSeconds(-10), leased: true);

        var sweeper = platform.GetRequiredService<Sweeper>();
        var first = await sweeper.WakeDueAsync(CancellationToken.None);
        var second = await sweeper.WakeDueAsync(CancellationToken.None);
        var jobs = new Dictionary<string, long>
        {
            ["due"] = await HangfireJobsForAsync(platform, due),
            ["future"] = await HangfireJobsForAsync(platform, future),
            ["leased"] = await HangfireJobsForAsync(platform, leased),
        };
        output.WriteLine($"WakeDueAsync dispatched {first}, then {second}; hangfire jobs: {string.Join(", ", jobs.Select(j => $"{j.Key}={j.Value}"))}");

        Assert.Equal(1, first);
        Assert.Equal(0, second);
        Assert.Equal(1, jobs["due"]);
        Assert.Equal(0, jobs["future"]);
        Assert.Equal(0, jobs["leased"]);
        Assert.True(await platform.ScalarAsync<bool>("SELECT dispatched_at >= next_wake_at FROM platform.runs WHERE id = @id", ("id", due)));
    }

    [Fact]
    public async Task SweepOnceAsync_LockHeldByAnotherProcess_SweepsNothing()
    {
        await using var platform = await PlatformApp.StartAsync("sweep_lock", Settings(workers: 0));
        await Api.RegisterAsync(platform, "sweep", Api.UnreachableAppUrl(), new FunctionSpec("fn", """{"event":"test/sweep"}"""));
        var runId = await InsertRunAsync(platform, "Queued", TimeSpan.FromMinutes(-1), TimeSpan.FromSeconds(-30));
        var sweeper = platform.GetRequiredService<Sweeper>();

        int whileHeld;
        await using (var other = new NpgsqlConnection(platform.ConnectionString))
        {
            // Another process's sweep pass, holding the lock in its open transaction.
            await other.OpenAsync();
            await using var tx = await other.BeginTransactionAsync();
            await using (var take = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@key)", other, tx))
            {
                take.Parameters.AddWithValue("key", SweepLockKey);
                await take.ExecuteNonQueryAsync();
            }

            whileHeld = await sweeper.SweepOnceAsync(CancellationToken.None);
            await tx.RollbackAsync();
        }

        var recoveriesWhileHeld = await platform.ScalarAsync<int>("SELECT recoveries FROM platform.runs WHERE id = @id", ("id", runId));
        var afterRelease = await sweeper.SweepOnceAsync(CancellationToken.None);
        var recoveriesAfter = await platform.ScalarAsync<int>("SELECT recoveries FROM platform.runs WHERE id = @id", ("id", runId));
        output.WriteLine($"sweep while another holds the lock: {whileHeld} (recoveries {recoveriesWhileHeld}); after release: {afterRelease} (recoveries {recoveriesAfter})");

        Assert.Equal(0, whileHeld);
        Assert.Equal(0, recoveriesWhileHeld);
        Assert.Equal(1, afterRelease);
        Assert.Equal(1, recoveriesAfter);
    }

    private static Dictionary<string, string?> Settings(int workers, int maxRecoveries = 20) => new()
    {
        ["Executor:WorkerCount"] = workers.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Executor:MaxRecoveries"] = maxRecoveries.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Executor:WakeInterval"] = "01:00:00",
        ["Executor:SweepInterval"] = "01:00:00",
    };

    /// <summary>An app that completes every function at once: 200 <c>{"ok":true}</c> with the SDK header.</summary>
    private static WireMockServer StartApp()
    {
        var server = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{PlatformApp.FreePort()}"] });
        server.Given(Request.Create().WithPath("/api/inngest").UsingPost())
            .RespondWith(Response.Create()
                .WithStatusCode(200)
                .WithHeader("Content-Type", "application/json")
                .WithHeader("X-Inngest-Sdk", "test")
                .WithBody("""{"ok":true}"""));
        return server;
    }

    /// <summary>Inserts an event and a run of <c>sweep-fn</c> directly, as a crashed process would have left them.</summary>
    private static async Task<string> InsertRunAsync(
        PlatformApp platform, string status, TimeSpan wakeIn, TimeSpan dispatchedIn, int recoveries = 0, bool leased = false)
    {
        var eventId = Ulid.New(DateTimeOffset.UtcNow);
        var runId = Ulid.New(DateTimeOffset.UtcNow);
        var rows = await Api.ExecuteAsync(platform, """
            INSERT INTO platform.events (id, event_id, name, data, ts, received_at) VALUES (@event, @event, 'test/sweep', '{}', 0, now());
            INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, dispatched_at, recoveries, wake_seq, state,
                                       created_at, lease_owner, lease_until)
            SELECT @run, f.id, @event, @status, 0, now() + @wake, now() + @dispatched, @recoveries, 0, @state::jsonb, now(),
                   CASE WHEN @leased THEN 'another-worker' END, CASE WHEN @leased THEN now() + interval '1 hour' END
              FROM platform.functions f WHERE f.slug = 'sweep-fn';
            """,
            ("event", eventId), ("run", runId), ("status", status), ("wake", wakeIn), ("dispatched", dispatchedIn),
            ("recoveries", recoveries), ("state", RunState.Start(DateTimeOffset.UnixEpoch).ToJson()), ("leased", leased));
        Assert.Equal(2, rows);
        return runId;
    }

    private static async Task<long> HangfireJobsForAsync(PlatformApp platform, string runId) =>
        await platform.ScalarAsync<long>(
            "SELECT count(*) FROM hangfire.job WHERE arguments::text LIKE '%' || @id || '%'", ("id", runId));

    private sealed record RunRow(string Status, int Recoveries, string? ErrorName, bool Ended)
    {
        public override string ToString() => $"status={Status} recoveries={Recoveries} error={ErrorName ?? "-"} ended={Ended}";
    }

    private static async Task<RunRow> RowAsync(PlatformApp platform, string runId)
    {
        await using var connection = new NpgsqlConnection(platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT status, recoveries, error->>'name', ended_at IS NOT NULL FROM platform.runs WHERE id = @id", connection);
        command.Parameters.AddWithValue("id", runId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return new RunRow(reader.GetString(0), reader.GetInt32(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.GetBoolean(3));
    }
}
