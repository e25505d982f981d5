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
}
