namespace Platform.Executor.Scheduling;

/// <summary>
/// Wakes the <see cref="LifecyclePublisher"/> when a run ended in this process, so its lifecycle events go out at
/// once rather than at the next poll. Losing a signal (a crash) only delays them until that poll.
/// </summary>
public sealed class LifecycleSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Notify()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: the next pass takes every pending row.
        }
    }

    /// <summary>Waits for a signal or the timeout; true when signalled.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);
}
