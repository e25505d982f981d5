using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using Platform.Dashboard.Shared;

namespace Platform.Dashboard.Tests.Views;

public sealed class LiveRefreshTests
{
    private static readonly TimeSpan s_period = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Start_FailingRefresh_ReportsTheErrorAndKeepsRefreshing()
    {
        var time = new FakeTimeProvider();
        var seen = Channel.CreateUnbounded<string>();
        var calls = 0;
        await using var live = LiveRefresh.Start(s_period, time,
            _ => ++calls == 1 ? Task.FromException(new TimeoutException("database timeout")) : Write(seen, $"refresh {calls}"),
            ex => Write(seen, "failed: " + ex.Message));

        time.Advance(s_period);
        Assert.Equal("failed: database timeout", await ReadAsync(seen));
        time.Advance(s_period);
        Assert.Equal("refresh 2", await ReadAsync(seen));
    }

    [Fact]
    public async Task DisposeAsync_WhileRunning_StopsRefreshing()
    {
        var time = new FakeTimeProvider();
        var seen = Channel.CreateUnbounded<string>();
        var calls = 0;
        var live = LiveRefresh.Start(s_period, time, _ => Write(seen, $"refresh {++calls}"), ex => Write(seen, ex.Message));
        time.Advance(s_period);
        Assert.Equal("refresh 1", await ReadAsync(seen));

        await live.DisposeAsync();
        time.Advance(s_period * 5);

        Assert.Equal(1, calls);
        Assert.False(seen.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Start_SlowRefresh_NeverOverlaps()
    {
        var time = new FakeTimeProvider();
        var release = new TaskCompletionSource();
        var started = Channel.CreateUnbounded<string>();
        var running = 0;
        var overlapped = false;
        await using var live = LiveRefresh.Start(s_period, time, async _ =>
        {
            overlapped |= Interlocked.Increment(ref running) > 1;
            await Write(started, "started");
            await release.Task;
            Interlocked.Decrement(ref running);
        }, _ => Task.CompletedTask);

        time.Advance(s_period);
        Assert.Equal("started", await ReadAsync(started));
        time.Advance(s_period * 3); // ticks while the first refresh still runs
        Assert.False(started.Reader.TryRead(out _));

        release.SetResult();
        Assert.Equal("started", await ReadAsync(started)); // one pending tick, not three
        Assert.False(overlapped);
    }

    [Fact]
    public async Task Follow_BurstsOfNotifications_FoldIntoOneRefreshPerMinimumInterval()
    {
        var time = new FakeTimeProvider();
        var feed = new RunChangeFeed();
        feed.SetListening(42);
        var options = new LiveOptions { MinRefreshInterval = TimeSpan.FromMilliseconds(250), LiveInterval = TimeSpan.FromHours(1) };
        var seen = Channel.CreateUnbounded<string>();
        var calls = 0;
        await using var live = LiveRefresh.Follow(feed, options, time, _ => Write(seen, $"refresh {Interlocked.Increment(ref calls)}"), ex => Write(seen, ex.Message));

        for (var i = 0; i < 20; i++)
        {
            feed.Publish(notification: true);
        }

        Assert.Equal("refresh 1", await ReadAsync(seen)); // the first signal refreshes at once
        for (var i = 0; i < 20; i++)
        {
            feed.Publish(notification: true);
        }

        // The next burst waits for the minimum interval and becomes one refresh.
        Assert.Equal("refresh 2", await AdvanceUntilAsync(time, options.MinRefreshInterval, seen, 20));
        for (var i = 0; i < 8; i++)
        {
            time.Advance(options.MinRefreshInterval);
        }

        Assert.False(await TryReadSoonAsync(seen));
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Follow_FeedDown_PollsEveryPollIntervalThenFollowsNotificationsOnceUp()
    {
        var time = new FakeTimeProvider();
        var feed = new RunChangeFeed(); // not listening: the page polls
        var options = new LiveOptions
        {
            MinRefreshInterval = TimeSpan.FromMilliseconds(250),
            PollInterval = TimeSpan.FromSeconds(5),
            LiveInterval = TimeSpan.FromHours(1),
        };
        var seen = Channel.CreateUnbounded<string>();
        var calls = 0;
        await using var live = LiveRefresh.Follow(feed, options, time, _ => Write(seen, $"refresh {Interlocked.Increment(ref calls)}"), ex => Write(seen, ex.Message));

        time.Advance(options.PollInterval);
        Assert.Equal("refresh 1", await ReadAsync(seen));
        var second = 0;
        for (var step = 1; step <= 12 && second == 0; step++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            if (await TryReadSoonAsync(seen))
            {
                second = step;
            }
        }

        Assert.InRange(second, 5, 12); // not before the poll interval (plus the minimum interval) has passed

        feed.SetListening(7); // the listener is up: a refresh at once, then only on notifications
        Assert.Equal("refresh 3", await AdvanceUntilAsync(time, options.MinRefreshInterval, seen, 20));
        for (var i = 0; i < 12; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.False(await TryReadSoonAsync(seen));
        feed.Publish(notification: true);
        Assert.Equal("refresh 4", await AdvanceUntilAsync(time, options.MinRefreshInterval, seen, 20));
    }

    /// <summary>Advances fake time by <paramref name="step"/> until the loop writes (it may not have armed its timer yet).</summary>
    private static async Task<string> AdvanceUntilAsync(FakeTimeProvider time, TimeSpan step, Channel<string> seen, int steps)
    {
        for (var i = 0; i < steps; i++)
        {
            using var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            try
            {
                return await seen.Reader.ReadAsync(soon.Token);
            }
            catch (OperationCanceledException)
            {
                time.Advance(step);
            }
        }

        return await ReadAsync(seen);
    }

    private static async Task<bool> TryReadSoonAsync(Channel<string> seen)
    {
        using var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        try
        {
            await seen.Reader.ReadAsync(soon.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private static Task Write(Channel<string> channel, string value) => channel.Writer.WriteAsync(value).AsTask();

    private static async Task<string> ReadAsync(Channel<string> channel)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        return await channel.Reader.ReadAsync(timeout.Token);
    }
}
