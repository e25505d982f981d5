using Platform.Api.Security;

namespace Platform.Tests.Security;

/// <summary>Dev mode stays on loopback unless Platform:AllowRemoteDevMode says otherwise.</summary>
public sealed class DevModeGuardTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("http://127.0.0.1:8288")]
    [InlineData("http://localhost:8288;https://[::1]:8443")]
    [InlineData("http://127.0.0.2:80/")]
    public void Check_LoopbackUrls_Allowed(string? urls) => Assert.Null(DevModeGuard.Check(urls, allowRemoteDevMode: false));

    [Theory]
    [InlineData("http://0.0.0.0:8288")]
    [InlineData("http://*:8288")]
    [InlineData("http://+:8288")]
    [InlineData("http://127.0.0.1:8288;http://[::]:8288")]
    [InlineData("http://192.168.1.10:8288")]
    public void Check_NonLoopbackUrls_RefusedWithTheReason(string urls)
    {
        var refusal = DevModeGuard.Check(urls, allowRemoteDevMode: false);

        Assert.NotNull(refusal);
        Assert.Contains("Platform:AllowRemoteDevMode=true", refusal, StringComparison.Ordinal);
        Assert.Null(DevModeGuard.Check(urls, allowRemoteDevMode: true));
    }
}
