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
/// Runs, steps and events are the user's history and are never deleted here. One process at a time (advisory lock);
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
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            unlock.Parameters.AddWithValue("key", LockKey);
            await unlock.ExecuteScalarAsync(CancellationToken.None);
        }

        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Housekeeping deleted {Count} expired rows from {Table}")]
    private partial void LogDeleted(long count, string table);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Housekeeping pass failed")]
    private partial void LogPassFailed(Exception ex);
}
