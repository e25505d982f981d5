using Platform.Executor.Events;
using Platform.Executor.Runs;
using Platform.Executor.Scheduling;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Integration;

/// <summary>
/// Housekeeping against real PostgreSQL: expired bookkeeping rows go (in batches, past a safety margin), live ones
/// and the user's history (events, runs) stay, and a second process never runs the same pass at the same time.
/// </summary>
public sealed class HousekeepingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RunOnceAsync_ExpiredAndLiveRows_DeletesOnlyRowsExpiredPastTheMargin()
    {
        await using var platform = await PlatformApp.StartAsync("housekeeping", new Dictionary<string, string?>
        {
            ["Executor:HousekeepingInterval"] = "01:00:00",
            ["Executor:OutboxRetention"] = "7.00:00:00",
        });
        await Api.RegisterAsync(platform, "house", Api.UnreachableAppUrl(), new FunctionSpec("fn", """{"event":"test/house"}"""));

        // event_dedupe: more than a batch of rows expired 2 h ago (gone), one expired 10 min ago (inside the margin: kept),
        // one still live (kept).
        var expired = Housekeeping.BatchSize + 7;
        await Api.ExecuteAsync(platform, """
            INSERT INTO platform.event_dedupe (event_id, internal_id, expires_at)
            SELECT 'old-' || g, 'x', now() - interval '2 hours' FROM generate_series(1, @n) g;
            INSERT INTO platform.event_dedupe (event_id, internal_id, expires_at) VALUES
                ('recent', 'x', now() - interval '10 minutes'), ('live', 'x', now() + interval '1 hour');
            """, ("n", expired));

        // Runs: one started 8 days ago and published 8 days ago (its outbox row goes), one started 8 days ago but
        // ended and published an hour ago (kept), one fresh and published now (kept).
        var old = await InsertEndedRunAsync(platform, DateTimeOffset.UtcNow.AddDays(-8), publishedAgo: TimeSpan.FromDays(8));
        var lateEnded = await InsertEndedRunAsync(platform, DateTimeOffset.UtcNow.AddDays(-8), publishedAgo: TimeSpan.FromHours(1));
        var fresh = await InsertEndedRunAsync(platform, DateTimeOffset.UtcNow, publishedAgo: TimeSpan.Zero);

        // idempotency_keys: one expired 2 h ago (gone), one live (kept).
        await Api.ExecuteAsync(platform, """
            INSERT INTO platform.idempotency_keys (function_id, key, run_id, expires_at)
            SELECT f.id, k.key, @run, k.expires FROM platform.functions f,
                   (VALUES ('expired', now() - interval '2 hours'), ('live', now() + interval '1 hour')) AS k(key, expires)
             WHERE f.slug = 'house-fn';
            """, ("run", fresh));

        var deleted = await platform.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);
        output.WriteLine("deleted: " + string.Join(", ", deleted.Select(d => $"{d.Key}={d.Value}")));

        Assert.Equal(expired, deleted["event_dedupe"]);
        Assert.Equal(["live", "recent"], await Api.ListAsync(platform, "SELECT event_id FROM platform.event_dedupe ORDER BY event_id"));
        Assert.Equal(1, deleted["idempotency_keys"]);
        Assert.Equal(["live"], await Api.ListAsync(platform, "SELECT key FROM platform.idempotency_keys"));
        Assert.Equal(1, deleted["run_outbox"]);
        Assert.Equal(new[] { lateEnded, fresh }.Order(), await Api.ListAsync(platform, "SELECT run_id FROM platform.run_outbox ORDER BY run_id"));
        Assert.Equal(3, await platform.ScalarAsync<long>("SELECT count(*) FROM platform.runs"));
        Assert.Contains(old, await Api.ListAsync(platform, "SELECT id FROM platform.runs"));

        var again = await platform.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);
        Assert.All(again.Values, count => Assert.Equal(0, count));
    }

    [Fact]
    public async Task RunOnceAsync_AnotherProcessHoldsTheLock_DoesNothing()
    {
        await using var platform = await PlatformApp.StartAsync("housekeeping_lock", new Dictionary<string, string?>
        {
            ["Executor:HousekeepingInterval"] = "01:00:00",
        });
        await Api.ExecuteAsync(platform, """
            INSERT INTO platform.event_dedupe (event_id, internal_id, expires_at) VALUES ('old', 'x', now() - interval '2 hours');
            """);

        await using var other = new Npgsql.NpgsqlConnection(platform.ConnectionString);
        await other.OpenAsync();
        await using (var take = new Npgsql.NpgsqlCommand("SELECT pg_advisory_lock(@key)", other))
        {
            take.Parameters.AddWithValue("key", Housekeeping.LockKey);
            await take.ExecuteScalarAsync();
        }

        var whileHeld = await platform.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);
        await using (var release = new Npgsql.NpgsqlCommand("SELECT pg_advisory_unlock(@key)", other))
        {
            release.Parameters.AddWithValue("key", Housekeeping.LockKey);
            await release.ExecuteScalarAsync();
        }

        var afterwards = await platform.GetRequiredService<Housekeeping>().RunOnceAsync(CancellationToken.None);

        Assert.Empty(whileHeld);
        Assert.Equal(1, afterwards["event_dedupe"]);
    }

    private static async Task<string> InsertEndedRunAsync(PlatformApp platform, DateTimeOffset startedAt, TimeSpan publishedAgo)
    {
        var eventId = Ulid.New(startedAt);
        var runId = Ulid.New(startedAt);
        var rows = await Api.ExecuteAsync(platform, """
            INSERT INTO platform.events (id, event_id, name, data, ts, received_at) VALUES (@event, @event, 'test/house', '{}', 0, now());
            INSERT INTO platform.runs (id, function_id, event_id, status, version, dispatched_at, recoveries, wake_seq, state, created_at, ended_at)
            SELECT @run, f.id, @event, 'Completed', 1, now(), 0, 0, @state::jsonb, now(), now()
              FROM platform.functions f WHERE f.slug = 'house-fn';
            INSERT INTO platform.run_outbox (run_id, created_at, published_at) VALUES (@run, now(), now() - @ago);
            """,
            ("event", eventId), ("run", runId), ("state", RunState.Start(DateTimeOffset.UnixEpoch).ToJson()), ("ago", publishedAgo));
        Assert.Equal(3, rows);
        return runId;
    }
}
