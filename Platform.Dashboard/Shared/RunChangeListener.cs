using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Executor.Storage;

namespace Platform.Dashboard.Shared;

/// <summary>
/// The process's one listening connection: <c>LISTEN platform_runs</c> (sent by the triggers on <c>platform.runs</c>,
/// see the <c>RunsLiveAndFilters</c> migration) on a connection held for as long as it lives, waiting with
/// <see cref="NpgsqlConnection.WaitAsync(CancellationToken)"/>. Each notification goes to <see cref="RunChangeFeed"/>.
/// If the connection breaks (PostgreSQL restarts, the backend is terminated), the feed is told at once, so pages
/// fall back to polling, and the listener reconnects with a backoff; after each (re)connect the feed is told that
/// runs may have changed, since notifications sent while nobody listened are gone.
/// </summary>
public sealed partial class RunChangeListener(
    PlatformDatabase database, RunChangeFeed feed, IOptions<LiveOptions> options, TimeProvider time, ILogger<RunChangeListener> logger) : BackgroundService
{
    public const string Channel = Executor.Scheduling.RunChangeNotifier.Channel;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = options.Value.ReconnectMin;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(stoppingToken, () => delay = options.Value.ReconnectMin);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // If we die here, pages poll (every LiveOptions.PollInterval) until the next connect succeeds.
                feed.SetListening(null);
                LogListenerDown(logger, delay, ex);
                await Task.Delay(delay, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, options.Value.ReconnectMax.Ticks));
            }
        }

        feed.SetListening(null);
    }

    private async Task ListenAsync(CancellationToken stoppingToken, Action connected)
    {
        // A pooled connection held for the listener's lifetime. The pool keeps sessions (No Reset On Close), so a
        // clean stop UNLISTENs before handing it back; a broken one is never returned to the pool.
        await using var connection = await database.DataSource.OpenConnectionAsync(stoppingToken);
        connection.Notification += (_, _) => feed.Publish(notification: true);
        await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
        {
            await listen.ExecuteNonQueryAsync(stoppingToken);
        }

        connected();
        feed.SetListening(connection.ProcessID);
        LogListening(logger, connection.ProcessID);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await connection.WaitAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await using var unlisten = new NpgsqlCommand("UNLISTEN *", connection);
            await unlisten.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Listening for run changes on backend {ProcessId}")]
    private static partial void LogListening(ILogger logger, int processId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run change listener is down; pages poll until it reconnects in {Delay}")]
    private static partial void LogListenerDown(ILogger logger, TimeSpan delay, Exception exception);
}
