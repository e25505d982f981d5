using System.Net;
using Microsoft.Extensions.Configuration;
using Platform.Executor.Security;

namespace Platform.Tests.Security;

/// <summary>G9 (SSRF), pure part: which addresses count as internal, what the allowlist opens, when start-up refuses.</summary>
public sealed class AppNetworkPolicyTests
{
    /// <summary>The G9 catalogue (reliability.md §3) as URLs; every one must be refused in production mode.</summary>
    public static TheoryData<string> InternalUrls => new()
    {
        "http://127.0.0.1:3000/api/inngest",
        "http://[::1]:3000/api/inngest",
        "http://0.0.0.0:3000/api/inngest",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/api/inngest",
        "http://172.16.0.1/api/inngest",
        "http://192.168.1.1/api/inngest",
        "http://100.64.0.1/api/inngest",
        "http://[fc00::1]/api/inngest",
        "http://[fe80::1]/api/inngest",
        "http://[::ffff:127.0.0.1]/api/inngest",
        "http://[::ffff:169.254.169.254]/api/inngest",
        "http://2130706433/api/inngest",
        "http://0x7f000001/api/inngest",
        "http://017700000001/api/inngest",
        "http://127.1/api/inngest",
        "http://localhost:3000/api/inngest",
        "http://LocalHost/api/inngest",
    };

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.255.255.254")]
    [InlineData("::1")]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("169.254.169.254")]
    [InlineData("10.0.0.1")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.0.1")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.255")]
    [InlineData("fc00::1")]
    [InlineData("fd12:3456::1")]
    [InlineData("fe80::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("64:ff9b::a00:1")]
    [InlineData("::127.0.0.1")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    public void IsPublic_InternalOrReservedAddress_IsFalse(string address)
    {
        Assert.False(AppNetworkPolicy.IsPublic(IPAddress.Parse(address)));
        Assert.False(Enforced().Allows("app", IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("169.255.0.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    public void IsPublic_PublicAddress_IsTrue(string address)
    {
        Assert.True(AppNetworkPolicy.IsPublic(IPAddress.Parse(address)));
        Assert.True(Enforced().Allows("app", IPAddress.Parse(address)));
    }

    [Theory]
    [MemberData(nameof(InternalUrls))]
    public async Task CheckAsync_InternalUrl_IsBlockedWithTheSettingNamed(string url)
    {
        var error = await Enforced().CheckAsync(url, CancellationToken.None);

        Assert.NotNull(error);
        Assert.StartsWith("blocked: ", error, StringComparison.Ordinal);
        Assert.Contains("Platform:Security:AllowedAppNetworks", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_DecimalIp_IsReadAsTheLoopbackAddress()
    {
        // Uri canonicalizes 2130706433 to 127.0.0.1, which the message shows.
        var error = await Enforced().CheckAsync("http://2130706433/", CancellationToken.None);

        Assert.Contains("resolves to 127.0.0.1", error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(InternalUrls))]
    public async Task CheckAsync_DevMode_AllowsEverything(string url)
    {
        Assert.Null(await AppNetworkPolicy.Off.CheckAsync(url, CancellationToken.None));
    }

    [Fact]
    public async Task CheckAsync_PublicLiteral_Allowed()
    {
        Assert.Null(await Enforced().CheckAsync("https://8.8.8.8/api/inngest", CancellationToken.None));
    }

    [Fact]
    public async Task CheckAsync_AllowlistedNetwork_OpensOnlyThatNetwork()
    {
        var policy = Enforced(("Platform:Security:AllowedAppNetworks:0", "10.20.0.0/16"), ("Platform:Security:AllowedAppNetworks:1", "fd00::5"));

        Assert.Null(await policy.CheckAsync("http://10.20.3.4:8080/api/inngest", CancellationToken.None));
        Assert.Null(await policy.CheckAsync("http://[::ffff:10.20.3.4]/api/inngest", CancellationToken.None));
        Assert.Null(await policy.CheckAsync("http://[fd00::5]/api/inngest", CancellationToken.None));
        Assert.NotNull(await policy.CheckAsync("http://10.21.0.1/api/inngest", CancellationToken.None));
        Assert.NotNull(await policy.CheckAsync("http://[fd00::6]/api/inngest", CancellationToken.None));
        Assert.NotNull(await policy.CheckAsync("http://169.254.169.254/", CancellationToken.None));
        Assert.False(policy.AllowsLoopback);
    }

    [Fact]
    public void Allows_AllowlistedHostName_OpensItsAddressesButNotLoopback()
    {
        var policy = Enforced(("Platform:Security:AllowedAppNetworks", "Billing.Internal, 192.168.7.0/24"));

        Assert.True(policy.Allows("billing.internal", IPAddress.Parse("10.9.8.7")));
        Assert.True(policy.Allows("billing.internal.", IPAddress.Parse("10.9.8.7")));
        Assert.True(policy.Allows("other", IPAddress.Parse("192.168.7.9")));
        Assert.False(policy.Allows("other", IPAddress.Parse("10.9.8.7")));
        Assert.False(policy.Allows("billing.internal", IPAddress.Loopback));
        Assert.False(policy.Allows("billing.internal", IPAddress.Any));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.0/8")]
    [InlineData("::1")]
    [InlineData("localhost")]
    [InlineData("0.0.0.0/0")]
    public void FromConfiguration_LoopbackEntryWithoutTheSwitch_RefusesToStart(string entry)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Enforced(("Platform:Security:AllowedAppNetworks:0", entry)));

        Assert.Contains("AllowLoopbackApps", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FromConfiguration_LoopbackEntryWithTheSwitch_OpensOnlyListedLoopback()
    {
        var policy = Enforced(("Platform:Security:AllowedAppNetworks:0", "127.0.0.1"), ("Platform:Security:AllowLoopbackApps", "true"));

        Assert.True(policy.AllowsLoopback);
        Assert.Null(await policy.CheckAsync("http://127.0.0.1:3000/api/inngest", CancellationToken.None));
        Assert.Null(await policy.CheckAsync("http://2130706433:3000/api/inngest", CancellationToken.None));
        Assert.NotNull(await policy.CheckAsync("http://[::1]:3000/api/inngest", CancellationToken.None));
        Assert.NotNull(await policy.CheckAsync("http://127.0.0.2:3000/api/inngest", CancellationToken.None));
        Assert.NotNull(await policy.CheckAsync("http://0.0.0.0:3000/api/inngest", CancellationToken.None));
        Assert.NotNull(await policy.CheckAsync("http://169.254.169.254/", CancellationToken.None));
    }

    [Fact]
    public void FromConfiguration_TheSwitchAlone_OpensNothing()
    {
        var policy = Enforced(("Platform:Security:AllowLoopbackApps", "true"));

        Assert.False(policy.AllowsLoopback);
        Assert.False(policy.Allows("localhost", IPAddress.Loopback));
    }

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("not a host!")]
    [InlineData("http://10.0.0.1/")]
    public void FromConfiguration_MalformedEntry_Refuses(string entry)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Enforced(("Platform:Security:AllowedAppNetworks:0", entry)));

        Assert.Contains(entry, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromConfiguration_DevMode_IsOffWhateverTheAllowlist()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Platform:Security:AllowedAppNetworks:0"] = "127.0.0.1",
        }).Build();

        var policy = AppNetworkPolicy.FromConfiguration(configuration, PlatformKeys.Dev);

        Assert.Same(AppNetworkPolicy.Off, policy);
        Assert.True(policy.Allows("localhost", IPAddress.Loopback));
    }

    internal static AppNetworkPolicy Enforced(params (string Key, string Value)[] settings)
    {
        var values = settings.ToDictionary(s => s.Key, s => (string?)s.Value);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        return AppNetworkPolicy.FromConfiguration(configuration, SigningKeysTests.Keys(ProductionModeTests.SigningKey));
    }
}
