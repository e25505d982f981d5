namespace Platform.Executor.Scheduling;

/// <summary>
/// "Hand this run to a worker." The one seam between deciding a run should move and a worker moving it.
/// Implementations only carry run ids: PostgreSQL holds the truth (invariant 1), so a lost or duplicated
/// dispatch is harmless (the sweeper re-dispatches, the claim's fence drops duplicates).
/// </summary>
public interface IRunDispatcher
{
    /// <summary>Drive these runs as soon as a worker is free.</summary>
    /// <remarks>
    /// Delayed work (sleeps, wait timeouts, retry backoff) is not scheduled here: it is <c>runs.next_wake_at</c>
    /// in PostgreSQL, and the <see cref="Sweeper"/>'s wake-up loop dispatches runs as they fall due.
    /// </remarks>
    Task DispatchAsync(IReadOnlyList<string> runIds, CancellationToken cancellationToken);
}
