using FunctionSdk.Protocol;

namespace FunctionSdk.Tests.Protocol;

public sealed class TimeStringsTests
{
    [Theory]
    [InlineData(90_000, "1m30s")]
    [InlineData(7_200_000, "2h")]
    [InlineData(777_600_000, "1w2d")]
    [InlineData(30_000, "30s")]
    [InlineData(1_500, "1s")]
    [InlineData(250, "1s")]
    [InlineData(0, "")]
    [InlineData(3_600_000 + 1_000, "1h1s")]
    public void Duration_WritesLikeJsSdk(long milliseconds, string expected) =>
        Assert.Equal(expected, TimeStrings.Duration(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void Instant_WritesIsoWithMillisecondsInUtc() =>
        Assert.Equal(
            "2026-11-28T04:46:01.824Z",
            TimeStrings.Instant(new DateTimeOffset(2026, 11, 28, 5, 46, 1, 824, TimeSpan.FromHours(1))));

    [Theory]
    [InlineData("1m30s", 90_000)]
    [InlineData("1w2d", 777_600_000)]
    [InlineData("250ms", 250)]
    [InlineData("", 0)]
    public void TryParseDuration_WhatTheSdkWrites_ReadsBack(string text, long milliseconds)
    {
        Assert.True(TimeStrings.TryParseDuration(text, out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("1y")]
    [InlineData("m")]
    [InlineData("12")]
    [InlineData("99999999999999999w")]
    public void TryParseDuration_NotADuration_False(string text) =>
        Assert.False(TimeStrings.TryParseDuration(text, out _));

    [Fact]
    public void TryParseWakeTime_InstantOrDuration_ResolvesAgainstNow()
    {
        var now = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.True(TimeStrings.TryParseWakeTime("2h", now, out var later));
        Assert.Equal(now.AddHours(2), later);
        Assert.True(TimeStrings.TryParseWakeTime("2026-11-28T04:46:01.824Z", now, out var at));
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 4, 46, 1, 824, TimeSpan.Zero), at);
    }
}
