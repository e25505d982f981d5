using Hangfire;
using Platform.Executor.Runs;

namespace Platform.Executor.Scheduling;

/// <summary>
/// The Hangfire job: drive one run. No Hangfire retries: retries and backoff live in the run's state and
/// <c>next_wake_at</c> (reliability.md §2.3); a job that throws leaves the run to the sweeper.
/// </summary>
public sealed class RunJob(RunExecutor executor)
{
    [AutomaticRetry(Attempts = 0, OnAttemptsExceeded = AttemptsExceededAction.Delete)]
    [JobDisplayName("Drive run {0}")]
    public Task ExecuteAsync(string runId, CancellationToken cancellationToken) => executor.DriveAsync(runId, cancellationToken);
}
