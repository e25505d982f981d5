using Platform.Executor.Protocol;

namespace Platform.Tests.Unit;

/// <summary>Durations and instants as the SDKs send them (protocol.md §15.1).</summary>
public sealed class TimeStringsTests
{
    private static readonly DateTimeOffset s_now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("1m30s", 90 * TimeSpan.TicksPerSecond)]
    [InlineData("2h", 2 * TimeSpan.TicksPerHour)]
    [InlineData("1w2d", 9 * TimeSpan.TicksPerDay)]
    [InlineData("500ms", 500 * TimeSpan.TicksPerMillisecond)]
    [InlineData("1.5s", 1_500 * TimeSpan.TicksPerMillisecond)]
    [InlineData(".5s", 500 * TimeSpan.TicksPerMillisecond)]
    [InlineData("1.5h", 90 * TimeSpan.TicksPerMinute)]
    [InlineData("2h0m0s", 2 * TimeSpan.TicksPerHour)]
    [InlineData("1d", TimeSpan.TicksPerDay)]
    [InlineData("0s", 0)]
    [InlineData("250us", 250 * TimeSpan.TicksPerMicrosecond)]
    [InlineData("1µs", TimeSpan.TicksPerMicrosecond)]
    [InlineData("1μs", TimeSpan.TicksPerMicrosecond)]
    [InlineData("100ns", 1)]
    [InlineData("1ns", 1)]
    [InlineData(" 30s ", 30 * TimeSpan.TicksPerSecond)]
    [InlineData("", 0)]
    [InlineData("   ", 0)]
    public void TryParseDuration_SdkDuration_Parses(string text, long ticks)
    {
        Assert.True(TimeStrings.TryParseDuration(text, out var duration));
        Assert.Equal(TimeSpan.FromTicks(ticks), duration);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("garbage")]
    [InlineData("10")]
    [InlineData("s")]
    [InlineData("1.2.3s")]
    [InlineData("-5s")]
    [InlineData("1y")]
    [InlineData("1H")]
    [InlineData("1 h")]
    [InlineData("1h-5m")]
    [InlineData("1e5s")]
    [InlineData("5m30")]
    [InlineData("99999999999999999999w")]
    public void TryParseDuration_Garbage_IsRejectedAsZero(string? text)
    {
        Assert.False(TimeStrings.TryParseDuration(text, out var duration));
        Assert.Equal(TimeSpan.Zero, duration);
    }

    [Theory]
    [InlineData("366d", 366 * TimeSpan.TicksPerDay)]
    [InlineData("8784h", 366 * TimeSpan.TicksPerDay)]
    [InlineData("30s", 30 * TimeSpan.TicksPerSecond)]
    [InlineData("", 0)]
    public void TryParseWakeTime_DurationUpTo366Days_IsNowPlusDuration(string text, long ticks)
    {
        Assert.True(TimeStrings.TryParseWakeTime(text, s_now, out var wakeAt));
        Assert.Equal(s_now + TimeSpan.FromTicks(ticks), wakeAt);
    }

    [Theory]
    [InlineData("367d")]
    [InlineData("8785h")]
    [InlineData("53w")]
    [InlineData("2027-12-01T00:00:00Z")]
    [InlineData("garbage")]
    [InlineData(null)]
    public void TryParseWakeTime_BeyondOneYearOrGarbage_IsRejected(string? text)
    {
        Assert.False(TimeStrings.TryParseWakeTime(text, s_now, out _));
    }

    [Theory]
    [InlineData("2026-11-28T04:46:01.824Z", "2026-11-28T04:46:01.824Z")]
    [InlineData("2026-11-28T13:30:00+01:00", "2026-11-28T12:30:00Z")]
    [InlineData("2026-12-25", "2026-12-25T00:00:00Z")]
    [InlineData("2027-11-29T11:59:59Z", "2027-11-29T11:59:59Z")]
    public void TryParseWakeTime_IsoInstant_IsThatInstantEvenInThePast(string text, string expected)
    {
        Assert.True(TimeStrings.TryParseWakeTime(text, s_now, out var wakeAt));
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), wakeAt);
        Assert.Equal(TimeSpan.Zero, wakeAt.Offset);
    }

    [Theory]
    [InlineData("12.31")]
    [InlineData("2026")]
    [InlineData("not a date at all")]
    [InlineData(null)]
    public void TryParseInstant_ShortOrGarbage_IsRejected(string? text)
    {
        Assert.False(TimeStrings.TryParseInstant(text, out _));
    }

    [Fact]
    public void MaxDuration_Is366Days()
    {
        Assert.Equal(TimeSpan.FromDays(366), TimeStrings.MaxDuration);
    }
}
