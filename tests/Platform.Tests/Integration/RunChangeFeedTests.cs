using Npgsql;
using Platform.Dashboard.Shared;
using Platform.Executor.Events;
using Platform.Executor.Scheduling;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Integration;

public sealed class RunChangeFeedFixture : IAsyncLifetime
{
    public PlatformApp Platform { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Platform = await PlatformApp.StartAsync("runfeed", new Dictionary<string, string?>(PlatformFixture.NoWorkers)
        {
            ["Dashboard:ReconnectMin"] = "00:00:00.200",
        });
        await Api.RegisterAsync(Platform, "feed", Api.UnreachableAppUrl(), new FunctionSpec("fn", """{"event":"feed/never"}"""));
    }

    public async Task DisposeAsync() => await Platform.DisposeAsync();
}

/// <summary>
/// The live feed end to end on real PostgreSQL: a run changed by another connection (as another platform process
/// would) reaches a subscriber through the trigger's NOTIFY and the process's one listener; a write that leaves the
/// status alone (a step commit) sends nothing; a killed listener connection is reported at once (pages poll) and
/// replaced by a new one.
/// </summary>
public sealed class RunChangeFeedTests(RunChangeFeedFixture fixture, ITestOutputHelper output) : IClassFixture<RunChangeFeedFixture>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);
    private readonly PlatformApp _platform = fixture.Platform;
    private readonly RunChangeFeed _feed = fixture.Platform.GetRequiredService<RunChangeFeed>();

    [Fact]
    public async Task Subscribe_RunCreatedAndStatusChangedInAnotherConnection_SubscriberCalledOncePerChangeNotPerStepCommit()
    {
        await UntilAsync(() => _feed.IsLive, "the listener to be up");
        var signals = 0;
        using var subscription = _feed.Subscribe(() => Interlocked.Increment(ref signals));
        var notificationsBefore = _feed.Notifications;

        var runId = await InsertRunAsync();
        await UntilAsync(() => _feed.Notifications == notificationsBefore + 1, "the creation's notification");

        // A step commit: the row changes, its status does not. Then a status change. Notifications arrive in commit
        // order, so once the second is in, the first would have been too.
        await ExecuteAsync("UPDATE platform.runs SET version = version + 1, state = '{\"items\":[1]}', status = 'Queued' WHERE id = @id", runId);
        await ExecuteAsync("UPDATE platform.runs SET version = version + 1, status = 'Sleeping' WHERE id = @id", runId);
        await UntilAsync(() => _feed.Notifications >= notificationsBefore + 2, "the status change's notification");

        output.WriteLine($"notifications: {_feed.Notifications - notificationsBefore}, subscriber calls: {Volatile.Read(ref signals)}");
        Assert.Equal(notificationsBefore + 2, _feed.Notifications);
        Assert.True(Volatile.Read(ref signals) >= 2);
    }

    [Fact]
    public async Task Listener_ConnectionTerminated_ReportsDownThenReconnectsWithANewBackend()
    {
        await UntilAsync(() => _feed.IsLive, "the listener to be up");
        var pid = _feed.ListenerProcessId!.Value;
        var sawDown = false;
        using var subscription = _feed.Subscribe(() => sawDown |= !_feed.IsLive);

        await using (var connection = new NpgsqlConnection(_platform.ConnectionString))
        {
            await connection.OpenAsync();
            await using var kill = new NpgsqlCommand("SELECT pg_terminate_backend(@pid)", connection);
            kill.Parameters.AddWithValue("pid", pid);
            Assert.True((bool)(await kill.ExecuteScalarAsync())!);
        }

        await UntilAsync(() => sawDown, "the feed to report the listener down");
        await UntilAsync(() => _feed.IsLive && _feed.ListenerProcessId != pid, "a new listener");
        output.WriteLine($"listener backend {pid} terminated; reconnected as {_feed.ListenerProcessId}");

        // And the new connection listens: a change still arrives.
        var before = _feed.Notifications;
        await InsertRunAsync();
        await UntilAsync(() => _feed.Notifications > before, "a notification on the new connection");
    }

    [Fact]
    public async Task Deferred_HotTransactionSkipsTheTriggerAndTheNotifierAnnouncesIt()
    {
        await UntilAsync(() => _feed.IsLive, "the listener to be up");
        var before = _feed.Notifications;
        var runId = await InsertRunAsync();
        await UntilAsync(() => _feed.Notifications >= before + 1, "the creation's notification");
        before = _feed.Notifications;

        // As the executor's claim and commit do: the deferral first, then a status change, in one transaction. Then a
        // plain status change as a marker: notifications arrive in commit order, so the first would come before it.
        await ExecuteAsync($"{RunChangeNotifier.DeferSql}; UPDATE platform.runs SET status = 'Sleeping' WHERE id = @id", runId);
        await ExecuteAsync("UPDATE platform.runs SET status = 'Waiting' WHERE id = @id", runId);
        await UntilAsync(() => _feed.Notifications >= before + 1, "the marker's notification");
        Assert.Equal(before + 1, _feed.Notifications);

        // What the executor calls after such a commit: one NOTIFY from the notifier's own transaction.
        _platform.GetRequiredService<RunChangeNotifier>().Changed();
        await UntilAsync(() => _feed.Notifications >= before + 2, "the notifier's notification");
        output.WriteLine($"deferred change: 0 notifications from the trigger; notifier: {_feed.Notifications - before - 1}");
    }

    private static Task UntilAsync(Func<bool> condition, string what) =>
        Eventually.WaitAsync(() => Task.FromResult(condition()), done => done, s_wait, what);

    /// <summary>A Queued run (and its event) inserted as another process's ingest would; never due, so nothing drives it.</summary>
    private async Task<string> InsertRunAsync()
    {
        var runId = Ulid.New(DateTimeOffset.UtcNow);
        await ExecuteAsync("""
            INSERT INTO platform.events (id, event_id, name, data, ts, received_at) VALUES (@id, @id, 'feed/never', '{}', 0, now());
            INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, recoveries, wake_seq, state, created_at)
            SELECT @id, f.id, @id, 'Queued', 0, '2100-01-01', 0, 0, '{"items":[]}', now() FROM platform.functions f WHERE f.slug = 'feed-fn'
            """, runId);
        return runId;
    }

    private async Task ExecuteAsync(string sql, string? id)
    {
        await using var connection = new NpgsqlConnection(_platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        if (id is not null)
        {
            command.Parameters.AddWithValue("id", id);
        }

        await command.ExecuteNonQueryAsync();
    }
}
