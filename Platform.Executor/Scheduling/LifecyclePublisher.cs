using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Executor.Events;
using Platform.Executor.Runs;
using Platform.Executor.Storage;

namespace Platform.Executor.Scheduling;

/// <summary>
/// Sends the lifecycle events of ended runs (protocol.md §14.6) from <c>run_outbox</c>, exactly once: in one
/// transaction it locks pending rows (<c>FOR UPDATE SKIP LOCKED</c>, so processes split the work), ingests their
/// events (which starts <c>onFailure</c> handlers and any function they trigger) and marks the rows published.
/// Runs when signalled by a run's end in this process, and every <see cref="ExecutorOptions.SweepInterval"/>
/// for rows another process left behind.
///
/// If the process dies before the commit, nothing was sent and the rows are still pending; after it, they are
/// marked and the new runs are stored as due (the sweep dispatches them if the dispatch below is lost).
/// </summary>
public sealed partial class LifecyclePublisher(
    PlatformDatabase database,
    EventIngest ingest,
    DispatchQueue dispatchQueue,
    LifecycleSignal signal,
    TimeProvider time,
    IOptions<ExecutorOptions> options,
    ILogger<LifecyclePublisher> logger) : BackgroundService
{
    public const int BatchSize = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    while (await PublishPendingAsync(stoppingToken) == BatchSize)
                    {
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogPassFailed(ex);
                }

                await signal.WaitAsync(options.Value.SweepInterval, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Publishes up to <see cref="BatchSize"/> pending rows; returns how many.</summary>
    public async Task<int> PublishPendingAsync(CancellationToken cancellationToken)
    {
        var (count, runIds) = await database.RetryAsync(PublishOnceAsync, cancellationToken);
        dispatchQueue.Enqueue(runIds);
        return count;
    }

    private async Task<(int Count, List<string> RunIds)> PublishOnceAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        var ended = new List<EndedRun>();
        await using (var read = new NpgsqlCommand("""
            SELECT o.run_id, r.status, r.output::text, r.error::text, f.slug,
                   e.name, e.data::text, e.event_id, e.ts, e."user"::text, e.v
              FROM platform.run_outbox o
              JOIN platform.runs r ON r.id = o.run_id
              JOIN platform.functions f ON f.id = r.function_id
              JOIN platform.events e ON e.id = r.event_id
             WHERE o.published_at IS NULL
             ORDER BY o.created_at
             LIMIT @limit
               FOR UPDATE OF o SKIP LOCKED
            """, connection, tx))
        {
            read.Parameters.AddWithValue("limit", BatchSize);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var data = reader.GetString(6);
                ended.Add(new EndedRun(
                    reader.GetString(0),
                    reader.GetString(4),
                    Enum.Parse<RunStatus>(reader.GetString(1)),
                    reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.GetString(5),
                    data,
                    CallRequestBuilder.EventJson(reader.GetString(5), data, reader.GetString(7), reader.GetInt64(8),
                        reader.IsDBNull(9) ? null : reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10))));
            }
        }

        if (ended.Count == 0)
        {
            return (0, []);
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var events = ended.SelectMany(r => LifecycleEvents.For(r, now)).ToList();
        var effects = await ingest.IngestInternalAsync(connection, tx, events, cancellationToken);

        await using (var mark = new NpgsqlCommand("UPDATE platform.run_outbox SET published_at = now() WHERE run_id = ANY(@ids)", connection, tx))
        {
            mark.Parameters.AddWithValue("ids", ended.Select(r => r.RunId).ToArray());
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        if (effects.Cancelled > 0)
        {
            // A lifecycle event cancelled runs (a cancel config on inngest/function.*): their events are next.
            signal.Notify();
        }

        LogPublished(events.Count, ended.Count, effects.Dispatch.Count);
        return (ended.Count, effects.Dispatch);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Sent {Events} lifecycle events of {Runs} ended runs; {Started} runs started or woken")]
    private partial void LogPublished(int events, int runs, int started);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending lifecycle events failed; the rows stay pending for the next pass")]
    private partial void LogPassFailed(Exception ex);
}
