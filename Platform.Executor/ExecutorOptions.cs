namespace Platform.Executor;

/// <summary>Settings of the engine, bound from the <c>Executor</c> configuration section.</summary>
public sealed class ExecutorOptions
{
    public const string Section = "Executor";

    /// <summary>Total time allowed for one call to an app, body included (a slow drip is cut here).</summary>
    public TimeSpan HttpTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a claim on a run lasts without a commit; must exceed <see cref="HttpTimeout"/>.</summary>
    public TimeSpan LeaseTtl => HttpTimeout + TimeSpan.FromSeconds(30);

    /// <summary>First retry delay; doubles per attempt, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Steps a run may store before it fails (Inngest: 1,000).</summary>
    public int MaxStepsPerRun { get; set; } = 1000;

    /// <summary>Largest reply (so largest step output) accepted from an app.</summary>
    public int MaxReplyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>How long one worker drives a run before yielding it back to the queue (fairness).</summary>
    public TimeSpan SliceDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Waits shorter than this (a retry backoff, a short sleep) happen inside the worker instead of via the scheduler.</summary>
    public TimeSpan InlineWaitThreshold { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Hangfire workers in this process (overflow and recovery). 0 makes an API-only process: no Hangfire
    /// worker and no local worker; its runs are executed by other processes.
    /// </summary>
    public int WorkerCount { get; set; } = 16;

    /// <summary>
    /// How runs are handed to workers: <c>local</c> (default: an in-process queue, Hangfire for overflow and
    /// recovery) or <c>hangfire</c> (every dispatch is a Hangfire job).
    /// </summary>
    public string Dispatch { get; set; } = "local";

    /// <summary>Async workers serving the in-process queue; 0 sends everything through Hangfire.</summary>
    public int LocalWorkers { get; set; } = 64;

    /// <summary>Run ids the in-process queue holds before further dispatches overflow to Hangfire.</summary>
    public int LocalQueueCapacity { get; set; } = 10_000;

    /// <summary>How often due timers (sleeps, wait timeouts, retry backoff) are looked for; their lateness is at most this.</summary>
    public TimeSpan WakeInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A run overdue by more than this, with no live lease, is considered stranded.</summary>
    public TimeSpan SweepGrace { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Minimum time between two dispatches of the same run by the sweeper.</summary>
    public TimeSpan RedispatchAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Re-dispatches without progress after which the sweeper fails a run for good.</summary>
    public int MaxRecoveries { get; set; } = 20;

    /// <summary>How often expired bookkeeping rows (event dedupe, idempotency keys, published outbox) are deleted, and with <see cref="RunRetention"/> old runs and events.</summary>
    public TimeSpan HousekeepingInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a run's published lifecycle-outbox row is kept (it guards against a retried final commit).</summary>
    public TimeSpan OutboxRetention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How long a run is kept after it ended (Completed, Failed or Cancelled); null (the default) keeps runs for
    /// ever. Runs, their steps and their events are the user's history (the dashboard, reruns, audits), so deleting
    /// them is the operator's decision, e.g. <c>Executor__RunRetention=30.00:00:00</c>. When set, housekeeping also
    /// deletes events received before the same cutoff that no remaining run refers to. Unfinished runs are never
    /// deleted, however old.
    /// </summary>
    public TimeSpan? RunRetention { get; set; }

    /// <summary>Hangfire's queue poll; only jobs enqueued by another process wait for it (hangfire.md).</summary>
    public TimeSpan QueuePollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Hangfire's delayed-job poll (timers do not use Hangfire's scheduler; see <c>Sweeper</c>).</summary>
    public TimeSpan SchedulePollingInterval { get; set; } = TimeSpan.FromSeconds(15);
}
