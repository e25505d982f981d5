using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Platform.Executor.Storage;

namespace Platform.Executor.Scheduling;

/// <summary>
/// Tells dashboards (<c>LISTEN platform_runs</c>, in any process) that runs changed, for the writes of the hot path.
/// <para>
/// The triggers on <c>platform.runs</c> notify for every writer (migration <c>RunsLiveAndFilters</c>), but
/// PostgreSQL serializes the commits of notifying transactions (a database-wide lock held through the commit's WAL
/// flush), which cost the executor about 20 % of its throughput and 1 ms per event → first step. So the executor's
/// own hot transactions (ingest, claim, the commits that change a status) run <see cref="DeferSql"/> first, which
/// makes the triggers skip them, and call <see cref="Changed"/> after their commit; this service then sends one
/// <c>NOTIFY</c> in a transaction of its own, at most every <see cref="MinInterval"/>, however many changes came in
/// between. Rare writers (cancel, rerun, timeouts, cron, the sweeper, manual SQL) keep the triggers' notification.
/// </para>
/// If the process dies between a hot commit and the notification, a dashboard learns of the change at its next
/// safety refresh (15 s) instead of at once; nothing else depends on notifications.
/// </summary>
public sealed partial class RunChangeNotifier(PlatformDatabase database, TimeProvider time, ILogger<RunChangeNotifier> logger) : BackgroundService
{
    public const string Channel = "platform_runs";

    /// <summary>First statement of a hot transaction: its run changes are announced by <see cref="Changed"/>, not by the triggers.</summary>
    public const string DeferSql = "SELECT set_config('platform.notify', 'deferred', true)";

    public static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(100);

    private readonly SemaphoreSlim _signal = new(0, 1);

    /// <summary>Runs changed in a committed transaction that ran <see cref="DeferSql"/>.</summary>
    public void Changed()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already pending: the next notification covers this change too.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _signal.WaitAsync(stoppingToken);
                try
                {
                    await using var connection = await database.DataSource.OpenConnectionAsync(stoppingToken);
                    await using var notify = new NpgsqlCommand($"NOTIFY {Channel}", connection);
                    await notify.ExecuteNonQueryAsync(stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Dashboards fall back to their periodic refresh; the next change tries again.
                    LogNotifyFailed(logger, ex);
                }

                await Task.Delay(MinInterval, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not notify run changes")]
    private static partial void LogNotifyFailed(ILogger logger, Exception exception);
}
