using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Executor.Events;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;
using Platform.Executor.Storage;

namespace Platform.Executor.Scheduling;

/// <summary>
/// Function timeouts (protocol.md §6.4 <c>timeouts</c>): a run that has not started within <c>timeouts.start</c> of
/// its creation, or has not finished within <c>timeouts.finish</c> of its start, is cancelled with an
/// <c>InngestFunctionTimeoutError</c> (so it calls the app no more and its pending work is dropped, as any cancel).
/// Checked every <see cref="ExecutorOptions.WakeInterval"/>, by the database's clock, only when some active
/// function has timeouts; concurrent processes are harmless (a cancel only takes runs that can still move).
/// </summary>
public sealed partial class RunTimeouts(
    PlatformDatabase database,
    FunctionRegistry registry,
    DispatchQueue dispatchQueue,
    LifecycleSignal lifecycle,
    IOptions<ExecutorOptions> options,
    ILogger<RunTimeouts> logger) : BackgroundService
{
    public const string ErrorName = "InngestFunctionTimeoutError";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.WakeInterval);
        try
        {
            do
            {
                try
                {
                    await CancelOverdueAsync(stoppingToken);
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

    /// <summary>Cancels the runs past a timeout of their function; returns how many.</summary>
    public async Task<int> CancelOverdueAsync(CancellationToken cancellationToken)
    {
        var limited = (await registry.GetAsync(cancellationToken)).Where(f => f.StartTimeout is not null || f.FinishTimeout is not null).ToList();
        if (limited.Count == 0)
        {
            return 0;
        }

        var (cancelled, woken) = await database.RetryAsync(async ct =>
        {
            await using var connection = await database.DataSource.OpenConnectionAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            var overdue = new List<(string RunId, bool Started, TimeSpan Limit)>();
            await using (var find = new NpgsqlCommand($"""
                SELECT r.id, r.started_at IS NOT NULL, CASE WHEN r.started_at IS NULL THEN t.start_limit ELSE t.finish_limit END
                  FROM unnest(@functions, @start, @finish) AS t(function_id, start_limit, finish_limit)
                  JOIN platform.runs r ON r.function_id = t.function_id
                 WHERE r.status IN {RunStatuses.MovableSql}
                   AND ((r.started_at IS NULL AND r.created_at + t.start_limit < now())
                     OR (r.started_at IS NOT NULL AND r.started_at + t.finish_limit < now()))
                 LIMIT 1000
                """, connection, tx))
            {
                find.Parameters.AddWithValue("functions", limited.Select(f => f.Id).ToArray());
                find.Parameters.AddWithValue("start", limited.Select(f => f.StartTimeout).ToArray());
                find.Parameters.AddWithValue("finish", limited.Select(f => f.FinishTimeout).ToArray());
                await using var reader = await find.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    overdue.Add((reader.GetString(0), reader.GetBoolean(1), reader.GetFieldValue<TimeSpan>(2)));
                }
            }

            var done = new List<string>();
            var resumed = new List<string>();
            foreach (var group in overdue.GroupBy(o => (o.Started, o.Limit)))
            {
                var message = group.Key.Started
                    ? $"The run did not finish within its timeouts.finish of {Seconds(group.Key.Limit)}"
                    : $"The run did not start within its timeouts.start of {Seconds(group.Key.Limit)}";
                var (c, w) = await RunFinalization.CancelAsync(connection, tx, [.. group.Select(o => o.RunId)], ct, ErrorJson.Create(ErrorName, message));
                done.AddRange(c);
                resumed.AddRange(w);
            }

            await tx.CommitAsync(ct);
            return (done, resumed);
        }, cancellationToken);

        if (cancelled.Count > 0)
        {
            // After the commit; if we die here, the sweep and the publisher's poll pick these up.
            dispatchQueue.Enqueue(woken);
            lifecycle.Notify();
            LogCancelled(cancelled.Count);
        }

        return cancelled.Count;
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + "s";

    [LoggerMessage(Level = LogLevel.Information, Message = "Cancelled {Count} runs past their function's timeouts")]
    private partial void LogCancelled(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Timeout pass failed")]
    private partial void LogPassFailed(Exception ex);
}
