using System.Threading.Channels;

namespace Platform.Dashboard.Shared;

/// <summary>
/// Refreshes a live component while it is interactive: on every <see cref="RunChangeFeed"/> signal (debounced to one
/// refresh per <see cref="LiveOptions.MinRefreshInterval"/>), else every <see cref="LiveOptions.PollInterval"/> while
/// the feed is down and every <see cref="LiveOptions.LiveInterval"/> while it is up; or, with the period overload,
/// every <c>period</c>. One refresh at a time: a slow query
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

    private LiveRefresh(RunChangeFeed feed, LiveOptions options, TimeProvider time, Func<CancellationToken, Task> refresh, Func<Exception, Task> failed)
    {
        _loop = FollowAsync(feed, options, time, refresh, failed, _stop.Token);
    }

    /// <summary>
    /// Starts following <paramref name="feed"/>: the first refresh runs on the first signal or after the first
    /// interval. Signals that arrive while a refresh runs, or within the minimum interval after it, fold into one.
    /// </summary>
    public static LiveRefresh Follow(RunChangeFeed feed, LiveOptions options, TimeProvider time, Func<CancellationToken, Task> refresh, Func<Exception, Task> failed) =>
        new(feed, options, time, refresh, failed);

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
                if (!await RefreshOnceAsync(refresh, failed, stop))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disposed with its component.
        }
    }

    private static async Task FollowAsync(
        RunChangeFeed feed, LiveOptions options, TimeProvider time, Func<CancellationToken, Task> refresh, Func<Exception, Task> failed, CancellationToken stop)
    {
        // Capacity one, extra signals dropped: however many notifications arrive, at most one refresh is pending.
        var signals = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        using var subscription = feed.Subscribe(() => signals.Writer.TryWrite(true));
        while (!stop.IsCancellationRequested)
        {
            using (var wake = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                var signalled = signals.Reader.WaitToReadAsync(wake.Token).AsTask();
                var timer = Task.Delay(feed.IsLive ? options.LiveInterval : options.PollInterval, time, wake.Token);
                await Task.WhenAny(signalled, timer);
                await wake.CancelAsync();
                await Task.WhenAll(signalled, timer).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (stop.IsCancellationRequested)
            {
                return;
            }

            signals.Reader.TryRead(out _);
            if (!await RefreshOnceAsync(refresh, failed, stop))
            {
                return;
            }

            // The debounce: signals of the next interval wait here and fold into one refresh.
            await Task.Delay(options.MinRefreshInterval, time, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>One refresh; a failure is reported and the loop goes on. False once disposed.</summary>
    private static async Task<bool> RefreshOnceAsync(Func<CancellationToken, Task> refresh, Func<Exception, Task> failed, CancellationToken stop)
    {
        try
        {
            await refresh(stop);
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            return false; // Disposed mid-refresh (the circuit may be gone): nothing to show it to.
        }
        catch (Exception ex)
        {
            await failed(ex);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
