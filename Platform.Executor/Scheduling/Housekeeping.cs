using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Executor.Events;
using Platform.Executor.Storage;

namespace Platform.Executor.Scheduling;

/// <summary>
/// Deletes bookkeeping rows whose purpose has passed, so that tables written on every event do not grow for ever:
/// <list type="bullet">
/// <item><c>event_dedupe</c> rows past their 24 h window (ingest already treats an expired row as absent),</item>
/// <item><c>idempotency_keys</c> rows past their 24 h window (same),</item>
/// <item><c>run_outbox</c> rows published more than <see cref="ExecutorOptions.OutboxRetention"/> ago (the row only
/// guards against a retried final commit writing the lifecycle events twice, which happens within seconds).</item>
/// </list>
/// Runs, steps and events are the user's history: they are deleted only when the operator sets
/// <see cref="ExecutorOptions.RunRetention"/>, and then only runs that ended before the cutoff (with their child rows,
/// by the foreign keys' <c>ON DELETE CASCADE</c>) and events received before it that no remaining run refers to (see
/// <see cref="DeleteEndedRunsAsync"/> and <see cref="DeleteUnreferencedEventsAsync"/>). One process at a time (advisory lock);
/// deletes go in batches of <see cref="BatchSize"/> rows, each its own short transaction, so a large backlog never
/// holds locks for long. Rows are deleted only once expired by a margin (<see cref="ExpiryMargin"/>), so a delete
/// can never race an ingest transaction whose <c>now()</c> still saw the row as live.
/// </summary>
public sealed partial class Housekeeping(
    PlatformDatabase database,
    IOptions<ExecutorOptions> options,
    ILogger<Housekeeping> logger) : BackgroundService
{
    public const int BatchSize = 5_000;
    /// <summary>Runs deleted per transaction: smaller than <see cref="BatchSize"/>, as each run takes its steps, attempts and waits with it.</summary>
    public const int RunBatchSize = 500;
    public static readonly TimeSpan ExpiryMargin = TimeSpan.FromHours(1);
    public const long LockKey = 0x484F555345; // "HOUSE"
    private readonly ExecutorOptions _options = options.Value;

    private static readonly (string Table, string Condition)[] s_targets =
    [
        ("event_dedupe", "expires_at < now() - @margin"),
        ("idempotency_keys", "expires_at < now() - @margin"),
        // Run ids are ULIDs, so "started before the cutoff" is a range scan of the primary key, not a table scan.
        ("run_outbox", "run_id < @cutoff AND published_at < now() - @outbox"),
    ];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.HousekeepingInterval);
        try
        {
            do
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogPassFailed(ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass over every table; returns the rows deleted per table (empty when another process holds the lock).</summary>
    public async Task<IReadOnlyDictionary<string, long>> RunOnceAsync(CancellationToken cancellationToken)
    {
        var deleted = new Dictionary<string, long>();
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection))
        {
            lockCommand.Parameters.AddWithValue("key", LockKey);
            if (await lockCommand.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return deleted;
            }
        }

        var cutoff = Ulid.Create((DateTimeOffset.UtcNow - _options.OutboxRetention).ToUnixTimeMilliseconds(), new byte[10]);
        try
        {
            foreach (var (table, condition) in s_targets)
            {
                long total = 0;
                int batch;
                do
                {
                    // ctid batches: each statement is its own transaction and touches at most BatchSize rows.
                    await using var command = new NpgsqlCommand($"""
                        DELETE FROM platform.{table}
                         WHERE ctid = ANY(ARRAY(SELECT ctid FROM platform.{table} WHERE {condition} LIMIT {BatchSize}))
                        """, connection);
                    command.Parameters.AddWithValue("margin", ExpiryMargin);
                    command.Parameters.AddWithValue("outbox", _options.OutboxRetention);
                    command.Parameters.AddWithValue("cutoff", cutoff);
                    batch = await command.ExecuteNonQueryAsync(cancellationToken);
                    total += batch;
                }
                while (batch == BatchSize);

                deleted[table] = total;
                if (total > 0)
                {
                    LogDeleted(total, table);
                }
            }

            if (_options.RunRetention is { } retention)
            {
                // Runs first: the events they referred to become unreferenced in the same pass.
                foreach (var (table, delete) in new (string, Func<NpgsqlConnection, TimeSpan, CancellationToken, Task<long>>)[]
                         {
                             ("runs", DeleteEndedRunsAsync),
                             ("events", DeleteUnreferencedEventsAsync),
                         })
                {
                    var total = await delete(connection, retention, cancellationToken);
                    deleted[table] = total;
                    if (total > 0)
                    {
                        LogDeleted(total, table);
                    }
                }
            }
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            unlock.Parameters.AddWithValue("key", LockKey);
            await unlock.ExecuteScalarAsync(CancellationToken.None);
        }

        return deleted;
    }

    /// <summary>
    /// Deletes runs that ended (Completed, Failed, Cancelled) more than <paramref name="retention"/> ago, a batch per
    /// transaction. Their steps, attempts, waits and outbox row go with them (<c>ON DELETE CASCADE</c>); a run that has
    /// not ended is never picked, however old. A rerun keeps living when its original goes: its
    /// <c>rerun_of_run_id</c> is set to NULL in the same transaction, before the delete (the foreign key is
    /// <c>RESTRICT</c>), so the rerun reads as a run of its own. The batch is locked <c>FOR UPDATE SKIP LOCKED</c>: a
    /// rerun being created from one of these runs holds it (<c>FOR KEY SHARE</c>, see <c>RunCommands.RerunAsync</c>),
    /// so that run is skipped and unlinked on a later pass; a rerun asked for after the delete finds no run.
    /// </summary>
    private async Task<long> DeleteEndedRunsAsync(NpgsqlConnection connection, TimeSpan retention, CancellationToken cancellationToken)
    {
        // Ids are ULIDs of the creation time and a run ends after it was created: every run that ended before the
        // cutoff has an id below it, so the walk is a range of the primary key. The condition itself is ended_at
        // (database time); a run whose id a skewed clock put above the bound is only picked a later pass.
        var idBound = Ulid.Create((DateTimeOffset.UtcNow - retention).ToUnixTimeMilliseconds(), new byte[10]);
        long total = 0;
        while (true)
        {
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            var ids = new List<string>(RunBatchSize);
            await using (var pick = new NpgsqlCommand($"""
                SELECT id FROM platform.runs
                 WHERE id < @bound AND status IN ('Completed', 'Failed', 'Cancelled') AND ended_at < now() - @retention
                 ORDER BY id
                 LIMIT {RunBatchSize}
                   FOR UPDATE SKIP LOCKED
                """, connection, tx))
            {
                pick.Parameters.AddWithValue("bound", idBound);
                pick.Parameters.AddWithValue("retention", retention);
                await using var reader = await pick.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    ids.Add(reader.GetString(0));
                }
            }

            if (ids.Count == 0)
            {
                await tx.CommitAsync(cancellationToken);
                return total;
            }

            await using (var unlink = new NpgsqlCommand("UPDATE platform.runs SET rerun_of_run_id = NULL WHERE rerun_of_run_id = ANY(@ids)", connection, tx))
            {
                unlink.Parameters.AddWithValue("ids", ids.ToArray());
                await unlink.ExecuteNonQueryAsync(cancellationToken);
            }

            await using var delete = new NpgsqlCommand("DELETE FROM platform.runs WHERE id = ANY(@ids)", connection, tx);
            delete.Parameters.AddWithValue("ids", ids.ToArray());
            if (await CommitOrDeferAsync(tx, delete, "runs", cancellationToken) is not { } batch)
            {
                return total;
            }

            total += batch;
            if (ids.Count < RunBatchSize)
            {
                return total;
            }
        }
    }

    /// <summary>
    /// Deletes events received more than <paramref name="retention"/> ago that no run refers to (<c>runs.event_id</c>
    /// has no foreign key, so the <c>NOT EXISTS</c> is the guard). No run can start referring to such an event
    /// meanwhile: ingest creates runs only for the events it inserts in the same transaction (new ids), and a rerun
    /// copies the event of a run that still exists, which keeps the event referenced; that run can only go through
    /// <see cref="DeleteEndedRunsAsync"/>, which runs before this under the same lock and skips a run being rerun.
    /// </summary>
    private async Task<long> DeleteUnreferencedEventsAsync(NpgsqlConnection connection, TimeSpan retention, CancellationToken cancellationToken)
    {
        var idBound = Ulid.Create((DateTimeOffset.UtcNow - retention).ToUnixTimeMilliseconds(), new byte[10]);
        long total = 0;
        while (true)
        {
            await using var tx = await connection.BeginTransactionAsync(cancellationToken);
            await using var command = new NpgsqlCommand($"""
                DELETE FROM platform.events
                 WHERE ctid = ANY(ARRAY(
                       SELECT e.ctid FROM platform.events e
                        WHERE e.id < @bound AND e.received_at < now() - @retention
                          AND NOT EXISTS (SELECT 1 FROM platform.runs r WHERE r.event_id = e.id)
                        LIMIT {BatchSize}))
                """, connection, tx);
            command.Parameters.AddWithValue("bound", idBound);
            command.Parameters.AddWithValue("retention", retention);
            if (await CommitOrDeferAsync(tx, command, "events", cancellationToken) is not { } batch)
            {
                return total;
            }

            total += batch;
            if (batch < BatchSize)
            {
                return total;
            }
        }
    }

    /// <summary>
    /// Runs a retention batch's delete and commits it: the rows deleted, or null when a foreign-key violation (a
    /// reference taken meanwhile) rolled the batch back; its rows are left to the next pass instead of failing the pass.
    /// </summary>
    private async Task<long?> CommitOrDeferAsync(NpgsqlTransaction tx, NpgsqlCommand delete, string table, CancellationToken cancellationToken)
    {
        try
        {
            var deleted = await delete.ExecuteNonQueryAsync(cancellationToken);
            await tx.CommitAsync(cancellationToken);
            return deleted;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            await tx.RollbackAsync(CancellationToken.None);
            LogDeferred(table, ex.MessageText);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Housekeeping deleted {Count} expired rows from {Table}")]
    private partial void LogDeleted(long count, string table);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Housekeeping left {Table} to the next pass: {Reason}")]
    private partial void LogDeferred(string table, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Housekeeping pass failed")]
    private partial void LogPassFailed(Exception ex);
}
