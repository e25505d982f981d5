using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Executor.Runs;

namespace Platform.Executor.Scheduling;

/// <summary>
/// The hot-path dispatcher: run ids go into an in-process queue served by <see cref="ExecutorOptions.LocalWorkers"/>
/// async workers, so an event or a wake-up reaches its first call without a round trip through Hangfire's tables
/// (hangfire.md: 10-18 ms per hop there). When this process has no local workers, or the queue is full, runs go
/// to Hangfire, which any executor process serves.
/// Nothing durable lives here: a run handed to this queue is already in PostgreSQL with <c>next_wake_at</c> set,
/// so if the process dies with ids queued, the sweep re-dispatches them (through Hangfire).
/// </summary>
public sealed partial class LocalRunDispatcher(
    IServiceProvider services,
    HangfireRunDispatcher hangfire,
    IOptions<ExecutorOptions> options,
    ILogger<LocalRunDispatcher> logger) : BackgroundService, IRunDispatcher
{
    private readonly ExecutorOptions _options = options.Value;
    private readonly Channel<string> _queue = Channel.CreateBounded<string>(new BoundedChannelOptions(Math.Max(1, options.Value.LocalQueueCapacity))
    {
        SingleWriter = false,
        SingleReader = false,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private volatile bool _accepting;

    public Task DispatchAsync(IReadOnlyList<string> runIds, CancellationToken cancellationToken)
    {
        List<string>? overflow = null;
        foreach (var runId in runIds)
        {
            if (!_accepting || !_queue.Writer.TryWrite(runId))
            {
                (overflow ??= []).Add(runId);
            }
        }

        return overflow is null ? Task.CompletedTask : hangfire.DispatchAsync(overflow, cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // WorkerCount 0 marks an API-only process: it executes nothing, locally or through Hangfire.
        if (_options.LocalWorkers <= 0 || _options.WorkerCount <= 0)
        {
            return Task.CompletedTask;
        }

        _accepting = true;
        stoppingToken.Register(() => _accepting = false);
        var workers = Enumerable.Range(0, _options.LocalWorkers).Select(_ => WorkAsync(stoppingToken)).ToArray();
        return Task.WhenAll(workers);
    }

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        var executor = services.GetRequiredService<RunExecutor>();
        try
        {
            await foreach (var runId in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                try
                {
                    await executor.DriveAsync(runId, stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // The run keeps its lease until it expires; the sweep then re-dispatches it.
                    LogDriveFailed(ex, runId);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Driving run {RunId} failed; the sweeper will pick it up once its lease expires")]
    private partial void LogDriveFailed(Exception ex, string runId);
}
