using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Platform.Executor.Scheduling;

/// <summary>
/// Dispatches runs created by a request after that request has answered, so an event is acknowledged at its
/// commit and not after N queue inserts. If the process dies with ids still in here, the runs are in the
/// database with <c>next_wake_at</c> set and the sweeper dispatches them (the "after commit, before enqueue" window).
/// </summary>
public sealed partial class DispatchQueue(IRunDispatcher dispatcher, ILogger<DispatchQueue> logger) : BackgroundService
{
    private readonly Channel<string> _channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    public void Enqueue(IEnumerable<string> runIds)
    {
        foreach (var id in runIds)
        {
            _channel.Writer.TryWrite(id);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<string>(256);
        while (await _channel.Reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            while (batch.Count < 256 && _channel.Reader.TryRead(out var id))
            {
                batch.Add(id);
            }

            try
            {
                await dispatcher.DispatchAsync(batch, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The runs are safe in the database; the sweeper will dispatch them.
                LogDispatchFailed(ex, batch.Count);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispatching {Count} runs failed; the sweeper will pick them up")]
    private partial void LogDispatchFailed(Exception ex, int count);
}
