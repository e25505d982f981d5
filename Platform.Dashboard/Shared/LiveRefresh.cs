namespace Platform.Dashboard.Shared;

/// <summary>
/// Refreshes a live component every <c>period</c> while it is interactive. One refresh at a time: a slow query
/// delays the next tick instead of piling up queries (the timer keeps at most one pending tick). A failed refresh
/// is reported and the loop goes on, so a database that comes back brings the page back. Disposed with the component.
/// </summary>
public sealed class LiveRefresh : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private LiveRefresh(TimeSpan period, TimeProvider time, Func<CancellationToken, Task> refresh, Func<Exception, Task> failed)
    {
        _loop = RunAsync(period, time, refresh, failed, _stop.Token);
    }

    /// <summary>Starts the loop; the first refresh runs one <paramref name="period"/> from now.</summary>
    public static LiveRefresh Start(TimeSpan period, TimeProvider time, Func<CancellationToken, Task> refresh, Func<Exception, Task> failed) =>
        new(period, time, refresh, failed);

    private static async Task RunAsync(
        TimeSpan period, TimeProvider time, Func<CancellationToken, Task> refresh, Func<Exception, Task> failed, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    await refresh(stop);
                }
                catch (Exception) when (stop.IsCancellationRequested)
                {
                    return; // Disposed mid-refresh (the circuit may be gone): nothing to show it to.
                }
                catch (Exception ex)
                {
                    await failed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disposed with its component.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
