using Platform.Executor.Scheduling;

namespace Platform.Tests.Parity;

/// <summary>Cron trigger texts as the SDKs send them: five or six fields, macros, a <c>TZ=</c> prefix.</summary>
public sealed class CronScheduleTests
{
    [Fact]
    public void Ticks_ParisPrefix_FiresAtNineParisTime()
    {
        Assert.True(CronSchedule.TryParse("TZ=Europe/Paris 0 9 * * 1-5", out var cron, out _));

        // Friday 27 and Monday 30 November 2026; Paris is UTC+1 in winter.
        var ticks = cron!.Ticks(new DateTimeOffset(2026, 11, 27, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero)).ToList();

        Assert.Equal([new DateTimeOffset(2026, 11, 27, 8, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero)], ticks);
    }

    [Fact]
    public void Ticks_SixFields_SecondsFirst_ExcludesTheStartIncludesTheEnd()
    {
        Assert.True(CronSchedule.TryParse("*/2 * * * * *", out var cron, out _));
        var t0 = new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

        var ticks = cron!.Ticks(t0, t0.AddSeconds(6)).ToList();

        Assert.Equal([t0.AddSeconds(2), t0.AddSeconds(4), t0.AddSeconds(6)], ticks);
        Assert.Empty(cron.Ticks(t0, t0));
    }

    [Theory]
    [InlineData("@daily")]
    [InlineData("CRON_TZ=America/New_York 30 6 * * *")]
    [InlineData("  TZ=UTC   */5 * * * *  ")]
    public void TryParse_Accepted(string text)
    {
        Assert.True(CronSchedule.TryParse(text, out var cron, out var error), error);
        Assert.Equal(text, cron!.Text);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("TZ=Mars/Olympus 0 9 * * *", "unknown time zone 'Mars/Olympus'")]
    [InlineData("61 * * * *", "not a cron expression")]
    [InlineData("every day", "not a cron expression")]
    public void TryParse_Rejected_SaysWhy(string text, string reason)
    {
        Assert.False(CronSchedule.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }
}
