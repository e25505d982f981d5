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
/// <see cref="EndedRunsSql"/> and <see cref="UnreferencedEventsSql"/>). One process at a time (advisory lock);
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

    /// <summary>A bookkeeping delete: ctid batches of at most <see cref="BatchSize"/> rows.</summary>
    private static string ExpiredRowsSql(string table, string condition) => $"""
        DELETE FROM platform.{table}
         WHERE ctid = ANY(ARRAY(SELECT ctid FROM platform.{table} WHERE {condition} LIMIT {BatchSize}))
        """;

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
        var deletes = s_targets
            .Select(t => (t.Table, BatchSize, ExpiredRowsSql(t.Table, t.Condition), (Action<NpgsqlParameterCollection>)(p =>
            {
                p.AddWithValue("margin", ExpiryMargin);
                p.AddWithValue("outbox", _options.OutboxRetention);
                p.AddWithValue("cutoff", cutoff);
            })))
            .ToList();
        if (_options.RunRetention is { } retention)
        {
            // Runs first: the events they referred to become unreferenced in the same pass.
            var bound = Ulid.Create((DateTimeOffset.UtcNow - retention).ToUnixTimeMilliseconds(), new byte[10]);
            Action<NpgsqlParameterCollection> bind = p =>
            {
                p.AddWithValue("bound", bound);
                p.AddWithValue("retention", retention);
            };
            deletes.Add(("runs", RunBatchSize, EndedRunsSql, bind));
            deletes.Add(("events", BatchSize, UnreferencedEventsSql, bind));
        }

        try
        {
            foreach (var (table, batchSize, sql, bind) in deletes)
            {
                var total = await DeleteInBatchesAsync(connection, table, batchSize, sql, bind, cancellationToken);
                deleted[table] = total;
                if (total > 0)
                {
                    LogDeleted(total, table);
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
    /// Deletes runs that ended (Completed, Failed, Cancelled) more than <see cref="ExecutorOptions.RunRetention"/> ago, in batches.
    /// Their steps, attempts, waits and outbox row go with them (<c>ON DELETE CASCADE</c>); a run that has not ended
    /// is never picked, however old. A run that another run reruns is kept while that rerun exists: the rerun's link
    /// (<c>rerun_of_run_id</c>, foreign key <c>RESTRICT</c>) never dangles and cannot be cleared either (the reruns
    /// of one run would all become "the" run of their event, which the unique index of ingest's dedupe forbids). A
    /// chain of reruns therefore goes from its newest end, one link per pass. The batch is locked
    /// <c>FOR UPDATE SKIP LOCKED</c>: a rerun being created holds the run it reruns (<c>FOR KEY SHARE</c>, see
    /// <c>RunCommands.RerunAsync</c>), so that run is skipped; a rerun asked for after the lock finds no run; a rerun
    /// that committed between this batch's snapshot and its lock fails the delete's foreign key, and the batch is
    /// left to the next pass.
    /// </summary>
    /// <remarks>
    /// Ids are ULIDs of the creation time and a run ends after it was created: every run that ended before the cutoff
    /// has an id below <c>@bound</c>, so the walk is a range of the primary key. The condition itself is <c>ended_at</c>
    /// (database time); a run whose id a skewed clock put above the bound is only picked a later pass.
    /// </remarks>
    private static readonly string EndedRunsSql = $"""
        DELETE FROM platform.runs
         WHERE id = ANY(ARRAY(
               SELECT r.id FROM platform.runs r
                WHERE r.id < @bound AND r.status IN ('Completed', 'Failed', 'Cancelled') AND r.ended_at < now() - @retention
                  AND NOT EXISTS (SELECT 1 FROM platform.runs rerun WHERE rerun.rerun_of_run_id = r.id)
                ORDER BY r.id
                LIMIT {RunBatchSize}
                  FOR UPDATE OF r SKIP LOCKED))
        """;

    /// <summary>
    /// Deletes events received more than <see cref="ExecutorOptions.RunRetention"/> ago that no run refers to (<c>runs.event_id</c>
    /// has no foreign key, so the <c>NOT EXISTS</c> is the guard). No run can start referring to such an event
    /// meanwhile: ingest creates runs only for the events it inserts in the same transaction (new ids), and a rerun
    /// copies the event of a run that still exists, which keeps the event referenced; that run can only go through
    /// <see cref="EndedRunsSql"/>, which runs before this under the same lock and skips a run being rerun.
    /// </summary>
    private static readonly string UnreferencedEventsSql = $"""
        DELETE FROM platform.events
         WHERE ctid = ANY(ARRAY(
               SELECT e.ctid FROM platform.events e
                WHERE e.id < @bound AND e.received_at < now() - @retention
                  AND NOT EXISTS (SELECT 1 FROM platform.runs r WHERE r.event_id = e.id)
                LIMIT {BatchSize}))
        """;

    /// <summary>
    /// Runs one delete (each statement its own short transaction) until a batch comes back short. A foreign-key
    /// violation (a reference taken meanwhile, see <see cref="EndedRunsSql"/>) rolls that batch back and leaves it to
    /// the next pass instead of failing the pass.
    /// </summary>
    private async Task<long> DeleteInBatchesAsync(
        NpgsqlConnection connection, string table, int batchSize, string sql, Action<NpgsqlParameterCollection> bind, CancellationToken cancellationToken)
    {
        long total = 0;
        int batch;
        do
        {
            await using var command = new NpgsqlCommand(sql, connection);
            bind(command.Parameters);
            try
            {
                batch = await command.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
            {
                LogDeferred(table, ex.MessageText);
                return total;
            }

            total += batch;
        }
        while (batch == batchSize);

        return total;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Housekeeping deleted {Count} expired rows from {Table}")]
    private partial void LogDeleted(long count, string table);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Housekeeping left {Table} to the next pass: {Reason}")]
    private partial void LogDeferred(string table, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Housekeeping pass failed")]
    private partial void LogPassFailed(Exception ex);
}
