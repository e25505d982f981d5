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

    private static Task Write(Channel<string> channel, string value) => channel.Writer.WriteAsync(value).AsTask();

    private static async Task<string> ReadAsync(Channel<string> channel)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        return await channel.Reader.ReadAsync(timeout.Token);
    }
}
