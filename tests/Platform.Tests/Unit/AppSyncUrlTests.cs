using Platform.Executor.Apps;

namespace Platform.Tests.Unit;

/// <summary>The app URL a register call carries: absolute http(s), no credentials, no per-call parameters.</summary>
public sealed class AppSyncUrlTests
{
    [Theory]
    [InlineData("http://127.0.0.1:3000/api/inngest?fnId=f&stepId=step&deployId=d1&probe=trust&keep=1", "http://127.0.0.1:3000/api/inngest?keep=1")]
    [InlineData("https://app.example.com/api/inngest?deployId=x", "https://app.example.com/api/inngest")]
    [InlineData("http://[::1]:3000/api?a=b&deployId=1&c=d", "http://[::1]:3000/api?a=b&c=d")]
    [InlineData("http://localhost:8080/api/inngest", "http://localhost:8080/api/inngest")]
    [InlineData("http://localhost:8080", "http://localhost:8080/")]
    [InlineData("https://app.example.com:443/x", "https://app.example.com/x")]
    [InlineData("HTTP://Example.COM/Api", "http://example.com/Api")]
    public void TryCleanUrl_HttpUrl_StripsTheSdkParametersAndKeepsTheRest(string url, string expected)
    {
        Assert.True(AppSync.TryCleanUrl(url, out var clean, out var error));
        Assert.Equal(expected, clean);
        Assert.Equal("", error);
    }

    [Theory]
    [InlineData("ftp://h/x", "ftp")]
    [InlineData("file:///etc/passwd", "file")]
    [InlineData("javascript:alert(1)", "javascript")]
    [InlineData("mailto:a@b.c", "mailto")]
    [InlineData("ws://h/", "ws")]
    [InlineData("data:text/plain,hi", "data")]
    public void TryCleanUrl_OtherScheme_IsRejected(string url, string scheme)
    {
        Assert.False(AppSync.TryCleanUrl(url, out var clean, out var error));
        Assert.Equal($"scheme '{scheme}' is not allowed; use http or https", error);
        Assert.Equal("", clean);
    }

    [Theory]
    [InlineData("http://user:pass@127.0.0.1:3000/api")]
    [InlineData("https://token@app.example.com/")]
    public void TryCleanUrl_Credentials_AreRejected(string url)
    {
        Assert.False(AppSync.TryCleanUrl(url, out _, out var error));
        Assert.Equal("credentials in the URL are not allowed", error);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("/api/inngest")]
    [InlineData("api/inngest")]
    [InlineData("//host/api")]
    [InlineData("http://")]
    [InlineData("http://h:99999/")]
    public void TryCleanUrl_RelativeOrBroken_IsRejectedAsNotAbsolute(string? url)
    {
        Assert.False(AppSync.TryCleanUrl(url, out _, out var error));
        Assert.Equal("required, an absolute URL", error);
    }
}
