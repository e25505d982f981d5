using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Executor.Events;
using Platform.Executor.Runs;
using Platform.Executor.Storage;

namespace Platform.Executor.Scheduling;

/// <summary>
/// Fires cron triggers: for each tick of each active function's cron, one run started by an
/// <c>inngest/scheduled.timer</c> event (the SDK admits that name for cron functions), exactly once per
/// (function, tick) however many platform processes run this loop: the tick is claimed by inserting its
/// <c>cron_ticks</c> row, in the same statement that stores the event and the run.
///
/// Each pass tries the ticks of the last <see cref="Lookback"/> it has not tried yet (the first pass of a process
/// looks <see cref="CatchUp"/> back), never from before the function was registered: a function this process
/// learns of late (its list is cached) still gets its recent ticks. Ticks missed while no process ran are not
/// fired later, as with Inngest. If the process dies after the commit, the run is stored as due and the sweep
/// dispatches it.
/// </summary>
public sealed partial class CronScheduler(
    PlatformDatabase database,
    FunctionRegistry registry,
    DispatchQueue dispatchQueue,
    TimeProvider time,
    IOptions<ExecutorOptions> options,
    ILogger<CronScheduler> logger) : BackgroundService
{
    public const string TimerEvent = "inngest/scheduled.timer";

    /// <summary>How far back a pass looks when the process starts (or after a long pause): late ticks still fire.</summary>
    public static readonly TimeSpan CatchUp = TimeSpan.FromMinutes(1);

    /// <summary>How far back each pass looks for ticks not tried yet: beyond the function list's cache age.</summary>
    public static readonly TimeSpan Lookback = FunctionRegistry.MaxAge * 3;

    /// <summary>Claimed ticks are kept this long (far longer than <see cref="CatchUp"/>), then deleted.</summary>
    public static readonly TimeSpan TickRetention = TimeSpan.FromDays(1);

    private readonly SemaphoreSlim _pass = new(1, 1);
    private readonly HashSet<(Guid Function, DateTimeOffset Tick)> _tried = [];
    private bool _caughtUp;
    private DateTimeOffset _lastCleanup = DateTimeOffset.MinValue;
    private long _won;
    private long _lost;

    /// <summary>Ticks this process claimed (and started a run for).</summary>
    public long TicksWon => Interlocked.Read(ref _won);

    /// <summary>Ticks this process tried to claim after another process had.</summary>
    public long TicksLost => Interlocked.Read(ref _lost);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.WakeInterval);
        try
        {
            do
            {
                try
                {
                    await FireDueAsync(stoppingToken);
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

    /// <summary>Fires the ticks that fell due since the previous pass; returns the runs this process started.</summary>
    public async Task<IReadOnlyList<string>> FireDueAsync(CancellationToken cancellationToken)
    {
        await _pass.WaitAsync(cancellationToken);
        try
        {
            return await FirePassAsync(cancellationToken);
        }
        finally
        {
            _pass.Release();
        }
    }

    private async Task<IReadOnlyList<string>> FirePassAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var after = now - (_caughtUp ? Lookback : CatchUp);
        _tried.RemoveWhere(t => t.Tick <= after);
        var functions = await registry.GetAsync(cancellationToken);
        var due = (from f in functions
                   from cron in f.Crons
                   from tick in cron.Ticks(after > f.CreatedAt ? after : f.CreatedAt, now)
                   where !_tried.Contains((f.Id, tick))
                   select (Function: f, Cron: cron, Tick: tick))
                  .DistinctBy(d => (d.Function.Id, d.Tick))
                  .ToList();

        var started = new List<string>();
        foreach (var (function, cron, tick) in due)
        {
            if (await database.RetryAsync(ct => FireAsync(function, cron, tick, ct), cancellationToken) is { } runId)
            {
                started.Add(runId);
                Interlocked.Increment(ref _won);
            }
            else
            {
                Interlocked.Increment(ref _lost);
            }

            _tried.Add((function.Id, tick));
        }

        _caughtUp = true;
        if (started.Count > 0)
        {
            dispatchQueue.Enqueue(started);
            LogFired(started.Count);
        }

        if (now - _lastCleanup > TimeSpan.FromHours(1))
        {
            await CleanupAsync(cancellationToken);
            _lastCleanup = now;
        }

        return started;
    }

    /// <summary>Claims the tick and starts its run in one statement; null when another process claimed it first.</summary>
    private async Task<string?> FireAsync(TriggeredFunction function, CronSchedule cron, DateTimeOffset tick, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var runId = Ulid.New(now);
        var eventId = Ulid.New(tick);
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            WITH tick AS (
                INSERT INTO platform.cron_ticks (function_id, tick_at, run_id, created_at)
                VALUES (@function, @tick, @run, now())
                ON CONFLICT (function_id, tick_at) DO NOTHING
                RETURNING function_id),
            event AS (
                INSERT INTO platform.events (id, event_id, name, data, ts, v, "user", received_at)
                SELECT @event, @event, @name, @data::jsonb, @ts, NULL, NULL, now() FROM tick
                RETURNING id)
            INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, dispatched_at, recoveries, wake_seq, state, created_at)
            SELECT @run, @function, event.id, 'Queued', 0, now(), now(), 0, 0, @state::jsonb, now() FROM event
            RETURNING id
            """, connection);
        command.Parameters.AddWithValue("function", function.Id);
        command.Parameters.AddWithValue("tick", tick);
        command.Parameters.AddWithValue("run", runId);
        command.Parameters.AddWithValue("event", eventId);
        command.Parameters.AddWithValue("name", TimerEvent);
        command.Parameters.AddWithValue("data", TimerData(cron, tick));
        command.Parameters.AddWithValue("ts", tick.ToUnixTimeMilliseconds());
        command.Parameters.AddWithValue("state", RunState.Start(DateTimeOffset.UnixEpoch).ToJson());
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>The timer event's data, as Go sends it: the cron text and the tick.</summary>
    public static string TimerData(CronSchedule cron, DateTimeOffset tick)
    {
        var at = tick.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        return JsonSerializer.Serialize(new Dictionary<string, string> { ["cron"] = cron.Text, ["scheduledAt"] = at, ["fireAt"] = at });
    }

    private async Task CleanupAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("DELETE FROM platform.cron_ticks WHERE tick_at < now() - @retention", connection);
        command.Parameters.AddWithValue("retention", TickRetention);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Cron: started {Count} runs")]
    private partial void LogFired(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Cron pass failed")]
    private partial void LogPassFailed(Exception ex);
}
