using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Executor;
using Platform.Executor.Events;
using Platform.Executor.Runs;
using Platform.Executor.Scheduling;
using Platform.Executor.Storage;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Integration;

/// <summary>
/// Run retention (<c>Executor:RunRetention</c>) against real PostgreSQL: runs that ended before the cutoff go with all
/// their rows, unfinished and recently ended runs stay, events go only once no run refers to them, a rerun outlives
/// its original, and nothing is deleted unless the operator opted in.
/// </summary>
public sealed class RetentionTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string?> s_thirtyDays = new()
    {
        ["Executor:HousekeepingInterval"] = "01:00:00",
        ["Executor:RunRetention"] = "30.00:00:00",
    };

    [Fact]
    public async Task RunOnceAsync_RetentionSet_DeletesRunsEndedBeforeTheCutoffWithTheirRowsAndUnreferencedEvents()
    {
        await using var platform = await StartAsync("retention", s_thirtyDays);

        // Everything that refers to a run: the child tables cascade, a rerun's link restricts (its original is kept).
        Assert.Equal(
            ["attempts:c", "run_outbox:c", "runs:r", "steps:c", "waits:c"],
            await Api.ListAsync(platform, """
                SELECT c.relname || ':' || confdeltype::text FROM pg_constraint JOIN pg_class c ON c.oid = conrelid
                 WHERE contype = 'f' AND confrelid = 'platform.runs'::regclass ORDER BY 1
                """));

        var day = TimeSpan.FromDays(1);
        var completed = await InsertRunAsync(platform, "Completed", createdAgo: 41 * day, endedAgo: 40 * day);
        var failed = await InsertRunAsync(platform, "Failed", createdAgo: 41 * day, endedAgo: 40 * day);
        var cancelled = await InsertRunAsync(platform, "Cancelled", createdAgo: 41 * day, endedAgo: 31 * day);
        var sleeping = await InsertRunAsync(platform, "Sleeping", createdAgo: 60 * day, endedAgo: null);
        var waiting = await InsertRunAsync(platform, "Waiting", createdAgo: 90 * day, endedAgo: null);
        var lateEnded = await InsertRunAsync(platform, "Completed", createdAgo: 41 * day, endedAgo: 29 * day);
        var fresh = await InsertRunAsync(platform, "Completed", createdAgo: TimeSpan.Zero, endedAgo: TimeSpan.Zero);
        var oldLoneEvent = await InsertEventAsync(platform, 40 * day);
        var recentLoneEvent = await InsertEventAsync(platform, 29 * day);
        var gone = new[] { completed, failed, cancelled };
        var kept = new[] { sleeping, waiting, lateEnded, fresh };

        var deleted = await platform.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);
        output.WriteLine("deleted: " + string.Join(", ", deleted.Select(d => $"{d.Key}={d.Value}")));

        Assert.Equal(3, deleted["runs"]);
        Assert.Equal(kept.Select(r => r.Run).Order(), await Api.ListAsync(platform, "SELECT id FROM platform.runs ORDER BY id"));
        foreach (var table in new[] { "steps", "attempts", "waits", "run_outbox" })
        {
            Assert.Equal(0, await platform.ScalarAsync<long>($"SELECT count(*) FROM platform.{table} WHERE run_id = ANY(@ids)", ("ids", gone.Select(r => r.Run).ToArray())));
            Assert.Equal(kept.Length, await platform.ScalarAsync<long>($"SELECT count(DISTINCT run_id) FROM platform.{table} WHERE run_id = ANY(@ids)", ("ids", kept.Select(r => r.Run).ToArray())));
        }

        // The deleted runs' events and the old event nothing referred to are gone; the events of kept runs (all but
        // one older than the cutoff) and the recent lone event stay.
        Assert.Equal(4, deleted["events"]);
        Assert.Equal(kept.Select(r => r.Event).Append(recentLoneEvent).Order(), await Api.ListAsync(platform, "SELECT id FROM platform.events ORDER BY id"));
        Assert.DoesNotContain(oldLoneEvent, await Api.ListAsync(platform, "SELECT id FROM platform.events"));

        // The kept runs still list and read (the run list joins their events).
        var list = await Api.GetAsync(platform, "/api/v1/runs?limit=50");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Equal(kept.Length, list.Json.GetProperty("items").GetArrayLength());

        var again = await platform.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);
        Assert.All(again.Values, count => Assert.Equal(0, count));
    }

    [Fact]
    public async Task RunOnceAsync_RunsThatAreRerun_KeptWhileTheirRerunIsThenDeletedFromTheNewestEnd()
    {
        await using var platform = await StartAsync("retention_rerun", s_thirtyDays);
        var day = TimeSpan.FromDays(1);
        var housekeeping = platform.GetRequiredService<Housekeeping>();

        // An old original with a recent rerun, and an old chain start → middle → end, all three past the cutoff.
        var original = await InsertRunAsync(platform, "Completed", createdAgo: 41 * day, endedAgo: 40 * day);
        var rerun = await InsertRunAsync(platform, "Completed", createdAgo: 2 * day, endedAgo: day, eventId: original.Event, rerunOf: original.Run);
        var start = await InsertRunAsync(platform, "Failed", createdAgo: 50 * day, endedAgo: 50 * day);
        var middle = await InsertRunAsync(platform, "Failed", createdAgo: 45 * day, endedAgo: 45 * day, eventId: start.Event, rerunOf: start.Run);
        var end = await InsertRunAsync(platform, "Completed", createdAgo: 35 * day, endedAgo: 35 * day, eventId: start.Event, rerunOf: middle.Run);

        // One link of the chain per pass, newest first; the shared event goes with the last run that referred to it.
        var passes = new List<IReadOnlyDictionary<string, long>>();
        for (var i = 0; i < 4; i++)
        {
            passes.Add(await housekeeping.RunOnceAsync(CancellationToken.None));
        }

        Assert.Equal([1L, 1L, 1L, 0L], passes.Select(p => p["runs"]));
        Assert.Equal([0L, 0L, 1L, 0L], passes.Select(p => p["events"]));
        Assert.Equal(new[] { original.Run, rerun.Run }.Order(), await Api.ListAsync(platform, "SELECT id FROM platform.runs ORDER BY id"));
        Assert.Equal([original.Event], await Api.ListAsync(platform, "SELECT id FROM platform.events"));

        // The kept rerun still reads with its original, in the API and on the dashboard.
        var detail = await Api.GetAsync(platform, $"/api/v1/runs/{rerun.Run}");
        Assert.True(detail.Status == HttpStatusCode.OK, detail.ToString());
        Assert.Equal(original.Run, detail.Json.GetProperty("rerunOf").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync(platform, $"/api/v1/runs/{original.Run}")).Status);
        using (var page = await platform.Http.GetAsync($"/runs/{rerun.Run}"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains(original.Run, await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A deleted run reads as missing and can no longer be rerun.
        Assert.Equal(HttpStatusCode.NotFound, (await Api.GetAsync(platform, $"/api/v1/runs/{start.Run}")).Status);
        Assert.Equal(RerunOutcome.RunNotFound, (await platform.GetRequiredService<RunCommands>().RerunAsync(end.Run, null, CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task RunOnceAsync_RerunRacingTheDelete_SkipsTheRunOrTheRerunFindsNone()
    {
        await using var platform = await StartAsync("retention_rerun_race", s_thirtyDays);
        var original = await InsertRunAsync(platform, "Completed", createdAgo: TimeSpan.FromDays(41), endedAgo: TimeSpan.FromDays(40));
        var housekeeping = platform.GetRequiredService<Housekeeping>();

        // A rerun's transaction holds the run it reruns (what RerunAsync's read takes): the pass neither waits for it
        // nor fails; it skips the run.
        await using (var rerunning = new NpgsqlConnection(platform.ConnectionString))
        {
            await rerunning.OpenAsync();
            await using var tx = await rerunning.BeginTransactionAsync();
            await using (var hold = new NpgsqlCommand("SELECT 1 FROM platform.runs WHERE id = @id FOR KEY SHARE", rerunning, tx))
            {
                hold.Parameters.AddWithValue("id", original.Run);
                Assert.Equal(1, await hold.ExecuteScalarAsync());
            }

            var whileHeld = await housekeeping.RunOnceAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(0, whileHeld["runs"]);
            Assert.Equal(0, whileHeld["events"]);
            await tx.CommitAsync();
        }

        // The other order: the pass holds the run (its batch is locked, then deleted); a rerun asked for meanwhile
        // waits and then finds no run, instead of failing on the foreign key of its link.
        await using var deleting = new NpgsqlConnection(platform.ConnectionString);
        await deleting.OpenAsync();
        await using var deleteTx = await deleting.BeginTransactionAsync();
        await using (var lockRun = new NpgsqlCommand("SELECT 1 FROM platform.runs WHERE id = @id FOR UPDATE", deleting, deleteTx))
        {
            lockRun.Parameters.AddWithValue("id", original.Run);
            await lockRun.ExecuteScalarAsync();
        }

        var rerun = platform.GetRequiredService<RunCommands>().RerunAsync(original.Run, null, CancellationToken.None);
        await Eventually.WaitAsync(() => platform.ScalarAsync<long>("SELECT count(*) FROM pg_locks WHERE NOT granted"), waiting => waiting > 0,
            TimeSpan.FromSeconds(20), "the rerun to wait for the deleting transaction");
        Assert.False(rerun.IsCompleted);
        await using (var delete = new NpgsqlCommand("DELETE FROM platform.runs WHERE id = @id", deleting, deleteTx))
        {
            delete.Parameters.AddWithValue("id", original.Run);
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }

        await deleteTx.CommitAsync();
        var result = await rerun.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(RerunOutcome.RunNotFound, result.Outcome);
        Assert.Equal(0, await platform.ScalarAsync<long>("SELECT count(*) FROM platform.runs"));
    }

    [Fact]
    public async Task RunOnceAsync_MoreRowsThanOneBatch_DeletesThemAllInOnePass()
    {
        await using var platform = await StartAsync("retention_batches", s_thirtyDays);
        var runs = Housekeeping.RunBatchSize * 4 + 7;
        var loneEvents = Housekeeping.BatchSize + 3;

        // Ids below any ULID of this century (000…, 001…). Old ended runs with ten steps and an attempt each, one event per run, and more lone old events than a batch.
        var inserted = await Api.ExecuteAsync(platform, """
            INSERT INTO platform.events (id, event_id, name, data, ts, received_at)
            SELECT '001' || lpad(g::text, 23, '0'), 'e' || g, 'test/retention', '{}', 0, now() - interval '40 days' FROM generate_series(1, @runs + @lone) g;
            INSERT INTO platform.runs (id, function_id, event_id, status, version, dispatched_at, recoveries, wake_seq, state, created_at, ended_at)
            SELECT '000' || lpad(g::text, 23, '0'), f.id, '001' || lpad(g::text, 23, '0'), 'Completed', 1, now(), 0, 0, @state::jsonb,
                   now() - interval '41 days', now() - interval '40 days'
              FROM platform.functions f, generate_series(1, @runs) g WHERE f.slug = 'retention-fn';
            INSERT INTO platform.steps (run_id, step_id, name, op, output, output_sha256, attempts, completed_at)
            SELECT r.id, 's' || s, 's' || s, 'StepRun', '{"data":{"n":1}}', '\x00'::bytea, 1, now() FROM platform.runs r, generate_series(1, 10) s;
            INSERT INTO platform.attempts (run_id, step_id, attempt, error, started_at, ended_at)
            SELECT r.id, 's1', 0, '{"message":"boom"}', now(), now() FROM platform.runs r;
            """, ("runs", runs), ("lone", loneEvents), ("state", RunState.Start(DateTimeOffset.UnixEpoch).ToJson()));
        Assert.Equal(runs * 13 + loneEvents, inserted);

        var clock = Stopwatch.StartNew();
        var deleted = await platform.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);
        clock.Stop();
        output.WriteLine($"one pass deleted {deleted["runs"]} runs ({runs * 10} steps, {runs} attempts) and {deleted["events"]} events in {clock.ElapsedMilliseconds} ms");

        Assert.Equal(runs, deleted["runs"]);
        Assert.Equal(runs + loneEvents, deleted["events"]);
        foreach (var table in new[] { "runs", "steps", "attempts", "events" })
        {
            Assert.Equal(0, await platform.ScalarAsync<long>($"SELECT count(*) FROM platform.{table}"));
        }
    }

    [Fact]
    public async Task RunOnceAsync_RetentionUnset_DeletesNoRunOrEvent()
    {
        await using var platform = await StartAsync("retention_unset", new Dictionary<string, string?>
        {
            ["Executor:HousekeepingInterval"] = "01:00:00",
        });
        var old = await InsertRunAsync(platform, "Completed", createdAgo: TimeSpan.FromDays(400), endedAgo: TimeSpan.FromDays(400));
        var loneEvent = await InsertEventAsync(platform, TimeSpan.FromDays(400));

        var deleted = await platform.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        Assert.False(deleted.ContainsKey("runs"));
        Assert.False(deleted.ContainsKey("events"));
        Assert.Equal([old.Run], await Api.ListAsync(platform, "SELECT id FROM platform.runs"));
        Assert.Equal(new[] { old.Event, loneEvent }.Order(), await Api.ListAsync(platform, "SELECT id FROM platform.events ORDER BY id"));

        // The same rows with the setting on: they were due, only the setting kept them.
        var optedIn = new Housekeeping(platform.GetRequiredService<PlatformDatabase>(),
            Options.Create(new ExecutorOptions { RunRetention = TimeSpan.FromDays(30) }), NullLogger<Housekeeping>.Instance);
        var withRetention = await optedIn.RunOnceAsync(CancellationToken.None);
        Assert.Equal(1, withRetention["runs"]);
        Assert.Equal(2, withRetention["events"]);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-30.00:00:00")]
    public void AddPlatformExecutor_NonPositiveRunRetention_RefusesToStartNamingTheSetting(string retention)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Executor:RunRetention"] = retention })
            .Build();
        var services = new ServiceCollection().AddLogging().AddPlatformExecutor(configuration, "Host=127.0.0.1;Database=unused");
        using var provider = services.BuildServiceProvider();

        // What the host runs before it starts anything (ValidateOnStart).
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains("Executor:RunRetention", error.Message, StringComparison.Ordinal);
        Assert.Contains("must be positive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddPlatformExecutor_PositiveOrUnsetRunRetention_Starts()
    {
        foreach (var retention in new[] { "30.00:00:00", null })
        {
            var configuration = new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { ["Executor:RunRetention"] = retention })
                .Build();
            using var provider = new ServiceCollection().AddLogging().AddPlatformExecutor(configuration, "Host=127.0.0.1;Database=unused").BuildServiceProvider();
            provider.GetRequiredService<IStartupValidator>().Validate();
            Assert.Equal(retention is null ? null : TimeSpan.FromDays(30), provider.GetRequiredService<IOptions<ExecutorOptions>>().Value.RunRetention);
        }
    }

    private static async Task<PlatformApp> StartAsync(string name, Dictionary<string, string?> settings)
    {
        var platform = await PlatformApp.StartAsync(name, settings);
        await Api.RegisterAsync(platform, "retention", Api.UnreachableAppUrl(), new FunctionSpec("fn", """{"event":"test/retention"}"""));
        return platform;
    }

    private static async Task<string> InsertEventAsync(PlatformApp platform, TimeSpan receivedAgo)
    {
        var id = Ulid.New(DateTimeOffset.UtcNow - receivedAgo);
        Assert.Equal(1, await Api.ExecuteAsync(platform, """
            INSERT INTO platform.events (id, event_id, name, data, ts, received_at) VALUES (@id, @id, 'test/retention', '{}', 0, now() - @ago)
            """, ("id", id), ("ago", receivedAgo)));
        return id;
    }

    /// <summary>
    /// A run created <paramref name="createdAgo"/> (its id and its event from then), ended <paramref name="endedAgo"/>
    /// (null: not ended, due in ten days), with a step, an attempt, a wait and an outbox row.
    /// </summary>
    private static async Task<(string Run, string Event)> InsertRunAsync(
        PlatformApp platform, string status, TimeSpan createdAgo, TimeSpan? endedAgo, string? eventId = null, string? rerunOf = null)
    {
        var createdAt = DateTimeOffset.UtcNow - createdAgo;
        eventId ??= await InsertEventAsync(platform, createdAgo);
        var runId = Ulid.New(createdAt);
        var rows = await Api.ExecuteAsync(platform, """
            INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, dispatched_at, recoveries, wake_seq, state,
                                       created_at, ended_at, rerun_of_run_id)
            SELECT @run, f.id, @event, @status, 1, CASE WHEN @ended THEN NULL ELSE now() + interval '10 days' END, now(), 0, 0, @state::jsonb,
                   now() - @created, CASE WHEN @ended THEN now() - @endedAgo END, nullif(@of, '')
              FROM platform.functions f WHERE f.slug = 'retention-fn';
            INSERT INTO platform.steps (run_id, step_id, name, op, output, output_sha256, attempts, completed_at)
            VALUES (@run, 's1', 's1', 'StepRun', '{"data":1}', '\x00'::bytea, 1, now() - @created);
            INSERT INTO platform.attempts (run_id, step_id, attempt, error, started_at, ended_at)
            VALUES (@run, 's1', 0, '{"message":"boom"}', now() - @created, now() - @created);
            INSERT INTO platform.waits (id, run_id, step_id, event_name, created_at, expires_at)
            VALUES (gen_random_uuid(), @run, 'w1', 'test/never', now() - @created, now() + interval '10 days');
            INSERT INTO platform.run_outbox (run_id, created_at, published_at) VALUES (@run, now(), now());
            """,
            ("run", runId), ("event", eventId), ("status", status), ("ended", endedAgo is not null), ("created", createdAgo),
            ("endedAgo", endedAgo ?? TimeSpan.Zero), ("of", rerunOf ?? ""), ("state", RunState.Start(DateTimeOffset.UnixEpoch).ToJson()));
        Assert.Equal(5, rows);
        return (runId, eventId);
    }
}
