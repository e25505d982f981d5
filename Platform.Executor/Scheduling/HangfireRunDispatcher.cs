using Hangfire;

namespace Platform.Executor.Scheduling;

/// <summary>Dispatch through Hangfire: one job per run drive, carrying only the run id.</summary>
public sealed class HangfireRunDispatcher(IBackgroundJobClient jobs) : IRunDispatcher
{
    public Task DispatchAsync(IReadOnlyList<string> runIds, CancellationToken cancellationToken)
    {
        foreach (var runId in runIds)
        {
            cancellationToken.ThrowIfCancellationRequested();
            jobs.Enqueue<RunJob>(job => job.ExecuteAsync(runId, CancellationToken.None));
        }

        return Task.CompletedTask;
    }
}
