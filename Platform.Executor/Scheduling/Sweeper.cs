using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;
using Platform.Executor.Storage;

namespace Platform.Executor.Scheduling;

/// <summary>
/// The two loops that keep runs moving, both driven by <c>runs.next_wake_at</c> and the database's <c>now()</c>:
/// <list type="bullet">
/// <item><b>Wake-up</b> (every <see cref="ExecutorOptions.WakeInterval"/>): durable timers. Dispatches runs whose
/// sleep, wait timeout or retry backoff fell due and that were not dispatched since. Concurrent processes split
/// the work (<c>FOR UPDATE SKIP LOCKED</c>); a run is handed out once per wake-up.</item>
/// <item><b>Sweep</b> (every <see cref="ExecutorOptions.SweepInterval"/>, one process at a time): recovery. Finds
/// runs that should be moving and are not (a lost or failed job, a crash between commit and dispatch, an expired
/// lease) and dispatches them again; a run re-dispatched <see cref="ExecutorOptions.MaxRecoveries"/> times
/// without progress is failed with a reason instead of looping for ever.</item>
/// </list>
/// </summary>
public sealed partial class Sweeper(
    PlatformDatabase database,
    IRunDispatcher dispatcher,
    HangfireRunDispatcher recovery,
    LifecycleSignal lifecycle,
    IOptions<ExecutorOptions> options,
    ILogger<Sweeper> logger) : BackgroundService
{
    private const long LockKey = 0x5357454550; // "SWEEP"
    private readonly ExecutorOptions _options = options.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(
            LoopAsync(_options.WakeInterval, WakeDueAsync, stoppingToken),
            LoopAsync(_options.SweepInterval, SweepOnceAsync, stoppingToken));

    private async Task LoopAsync(TimeSpan interval, Func<CancellationToken, Task<int>> pass, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            do
            {
                try
                {
                    await pass(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogPassFailed(ex, pass.Method.Name);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Dispatches runs whose timer fell due; returns how many.</summary>
    public async Task<int> WakeDueAsync(CancellationToken cancellationToken)
    {
        var due = new List<string>();
        await using (var connection = await database.DataSource.OpenConnectionAsync(cancellationToken))
        await using (var command = new NpgsqlCommand($"""
            UPDATE platform.runs r SET dispatched_at = now()
              FROM (SELECT id FROM platform.runs
                     WHERE status IN {RunStatuses.MovableSql}
                       AND next_wake_at <= now()
                       AND dispatched_at < next_wake_at
                       AND (lease_until IS NULL OR lease_until < now())
                     ORDER BY next_wake_at
                     LIMIT 1000
                     FOR UPDATE SKIP LOCKED) AS s
             WHERE r.id = s.id
            RETURNING r.id
            """, connection))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                due.Add(reader.GetString(0));
            }
        }

        // After the commit: if we die here, dispatched_at is set but the sweep pass re-dispatches the run.
        if (due.Count > 0)
        {
            await dispatcher.DispatchAsync(due, cancellationToken);
        }

        return due.Count;
    }

    /// <summary>One recovery pass; returns the number of runs re-dispatched.</summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        await ReleaseOrphanedLeasesAsync(cancellationToken);
        List<string> due = [];
        List<string> dead = [];
        await using (var connection = await database.DataSource.OpenConnectionAsync(cancellationToken))
        await using (var tx = await connection.BeginTransactionAsync(cancellationToken))
        {
            await using (var lockCommand = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock(@key)", connection, tx))
            {
                lockCommand.Parameters.AddWithValue("key", LockKey);
                if (await lockCommand.ExecuteScalarAsync(cancellationToken) is not true)
                {
                    return 0;
                }
            }

            await using (var command = new NpgsqlCommand($"""
                UPDATE platform.runs r
                   SET dispatched_at = now(), recoveries = r.recoveries + 1
                  FROM (SELECT id FROM platform.runs
                         WHERE status IN {RunStatuses.MovableSql}
                           AND next_wake_at <= now() - @grace
                           AND (lease_until IS NULL OR lease_until < now())
                           AND dispatched_at < now() - @redispatch
                         ORDER BY next_wake_at
                         LIMIT 1000
                         FOR UPDATE SKIP LOCKED) AS s
                 WHERE r.id = s.id
                RETURNING r.id, r.recoveries
                """, connection, tx))
            {
                command.Parameters.AddWithValue("grace", _options.SweepGrace);
                command.Parameters.AddWithValue("redispatch", _options.RedispatchAfter);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    (reader.GetInt32(1) > _options.MaxRecoveries ? dead : due).Add(reader.GetString(0));
                }
            }

            if (dead.Count > 0)
            {
                await using var fail = new NpgsqlCommand($"""
                    UPDATE platform.runs
                       SET status = 'Failed', version = version + 1, lease_owner = NULL, lease_until = NULL,
                           next_wake_at = NULL, ended_at = now(), error = @error::jsonb
                     WHERE id = ANY(@ids) AND status IN {RunStatuses.MovableSql}
                    """, connection, tx);
                fail.Parameters.AddWithValue("ids", dead.ToArray());
                fail.Parameters.AddWithValue("error", ErrorJson.Create("StuckRunError",
                    $"The run was re-dispatched {_options.MaxRecoveries} times without making progress; see the platform log"));
                await fail.ExecuteNonQueryAsync(cancellationToken);
                await using var waits = new NpgsqlCommand("DELETE FROM platform.waits WHERE run_id = ANY(@ids)", connection, tx);
                waits.Parameters.AddWithValue("ids", dead.ToArray());
                await waits.ExecuteNonQueryAsync(cancellationToken);
                due.AddRange(await RunFinalization.EndedAsync(connection, tx, [.. dead], cancellationToken));
            }

            await tx.CommitAsync(cancellationToken);
        }

        if (dead.Count > 0)
        {
            LogDeadRuns(dead.Count, string.Join(",", dead.Take(10)));
            lifecycle.Notify();
        }

        if (due.Count > 0)
        {
            // Recovery goes through Hangfire: any executor process can take these, not only this one.
            LogRedispatch(due.Count);
            await recovery.DispatchAsync(due, cancellationToken);
        }

        return due.Count;
    }

    /// <summary>
    /// Expires leases held by processes of this machine that are gone (a SIGKILLed platform that was restarted):
    /// their runs move again at this sweep instead of after the lease TTL. The expiry changes nothing else; the
    /// next claim fences out the dead owner as usual.
    /// </summary>
    public async Task<int> ReleaseOrphanedLeasesAsync(CancellationToken cancellationToken)
    {
        var owners = new List<string>();
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using (var find = new NpgsqlCommand($"""
            SELECT DISTINCT lease_owner FROM platform.runs
             WHERE status IN {RunStatuses.MovableSql} AND lease_until > now() AND starts_with(lease_owner, @machine)
            """, connection))
        {
            find.Parameters.AddWithValue("machine", LeaseOwner.MachinePrefix);
            await using var reader = await find.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                owners.Add(reader.GetString(0));
            }
        }

        var orphaned = owners.Where(LeaseOwner.IsOrphanedOnThisMachine).ToArray();
        if (orphaned.Length == 0)
        {
            return 0;
        }

        // dispatched_at in the past makes this same sweep pass re-dispatch them.
        await using var release = new NpgsqlCommand($"""
            UPDATE platform.runs SET lease_until = now() - interval '1 millisecond', dispatched_at = now() - interval '1 day'
             WHERE lease_owner = ANY(@owners) AND status IN {RunStatuses.MovableSql}
            """, connection);
        release.Parameters.AddWithValue("owners", orphaned);
        var count = await release.ExecuteNonQueryAsync(cancellationToken);
        LogOrphans(count);
        return count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Released {Count} run leases held by processes of this machine that are gone")]
    private partial void LogOrphans(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Scheduler pass {Pass} failed")]
    private partial void LogPassFailed(Exception ex, string pass);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sweeper re-dispatched {Count} stranded runs")]
    private partial void LogRedispatch(int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Sweeper failed {Count} runs that made no progress after repeated dispatches: {RunIds}")]
    private partial void LogDeadRuns(int count, string runIds);
}
