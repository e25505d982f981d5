using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;
using Platform.Executor.Security;

namespace Platform.Tests.Security;

/// <summary>The key arithmetic of protocol.md §5.2/§5.3, checked against the SDK-verified test vectors.</summary>
public sealed class SigningKeysTests
{
    private const string ProbeKey = "signkey-test-ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34";

    [Fact]
    public void Signature_ProtocolTestVector_MatchesTheSdk()
    {
        var body = Encoding.UTF8.GetBytes("""{"ctx":{"attempt":0,"run_id":"01HRUN"},"event":{"data":{},"name":"test/hello"},"events":[],"steps":{}}""");

        Assert.Equal("t=1700000000&s=fcd7fe1a8bcaf8bdd27cfd3a810a347a2ec2812f40ffa2bf46f8a5469e061d01", SigningKeys.Signature(ProbeKey, body, 1700000000));
    }

    [Fact]
    public void Prepare_NonCanonicalBody_SendsJcsBytesAndSignsExactlyThem()
    {
        var keys = Keys(ProbeKey);
        var signer = new RequestSigner(keys, new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1700000000)));
        var pretty = Encoding.UTF8.GetBytes("""{ "steps": {}, "events": [], "event": {"name":"test/hello","data":{}}, "ctx": {"run_id":"01HRUN","attempt":0.0} }""");

        var (body, signature) = signer.Prepare(pretty);

        Assert.Equal("""{"ctx":{"attempt":0,"run_id":"01HRUN"},"event":{"data":{},"name":"test/hello"},"events":[],"steps":{}}""", Encoding.UTF8.GetString(body));
        Assert.Equal("t=1700000000&s=fcd7fe1a8bcaf8bdd27cfd3a810a347a2ec2812f40ffa2bf46f8a5469e061d01", signature);
        Assert.Equal("cloud", signer.ServerKind);
    }

    [Fact]
    public void Prepare_DevMode_PassesTheBodyThroughUnsigned()
    {
        var signer = new RequestSigner(PlatformKeys.Dev, TimeProvider.System);
        var raw = Encoding.UTF8.GetBytes("""{ "b": 1, "a": 2 }""");

        var (body, signature) = signer.Prepare(raw);

        Assert.Same(raw, body);
        Assert.Null(signature);
        Assert.Equal("dev", signer.ServerKind);
    }

    [Theory]
    [InlineData("signkey-prod-12345678", "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c")]
    [InlineData(ProbeKey, "signkey-test-f936c15b3f8831d8d5106c8aacc86461685f581ccd7cf045e7d3de263a82de33")]
    [InlineData("12345678", "b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c")]
    public void BearerToken_ProtocolTestVectors_MatchTheSdk(string key, string expected) =>
        Assert.Equal(expected, SigningKeys.BearerToken(key));

    [Theory]
    [InlineData("signkey-branch-abcd", "abcd")]
    [InlineData("abcd", "abcd")]
    [InlineData("signkey-prod_x-ab", "ab")]
    public void Normalize_Prefixes_StripsOnlyTheSignkeyPrefix(string key, string expected) =>
        Assert.Equal(expected, SigningKeys.Normalize(key));

    [Fact]
    public void FromConfiguration_NoKeys_IsDevMode()
    {
        var keys = PlatformKeys.FromConfiguration(new ConfigurationBuilder().Build());

        Assert.False(keys.IsProduction);
        Assert.Same(PlatformKeys.Dev, keys);
    }

    [Fact]
    public void FromConfiguration_SigningKeyWithoutEventKeys_RefusesWithAClearMessage()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Platform:SigningKey"] = ProbeKey,
            ["Platform:ApiToken"] = "token",
        }).Build();

        var error = Assert.Throws<InvalidOperationException>(() => PlatformKeys.FromConfiguration(configuration));
        Assert.Contains("EventKeys", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromConfiguration_NonHexSigningKey_Refuses()
    {
        Assert.Throws<InvalidOperationException>(() => Keys("signkey-prod-nothex"));
    }

    [Fact]
    public void AcceptsBearer_HashedPlainAndFallback_AcceptedAndOthersRejected()
    {
        const string fallback = "signkey-prod-0011223344556677";
        var keys = Keys(ProbeKey, fallback);

        Assert.True(keys.AcceptsBearer(SigningKeys.BearerToken(ProbeKey)));
        Assert.True(keys.AcceptsBearer(ProbeKey));
        Assert.True(keys.AcceptsBearer(SigningKeys.BearerToken(fallback)));
        Assert.True(keys.AcceptsBearer(fallback));
        Assert.False(keys.AcceptsBearer(null));
        Assert.False(keys.AcceptsBearer("undefined"));
        Assert.False(keys.AcceptsBearer(FlipOneBit(SigningKeys.BearerToken(ProbeKey))));
        Assert.False(Keys(ProbeKey).AcceptsBearer(SigningKeys.BearerToken(fallback)));
    }

    [Fact]
    public void AcceptsEventKeyAndApiToken_ConfiguredValues_OnlyThoseAccepted()
    {
        var keys = Keys(ProbeKey);

        Assert.True(keys.AcceptsEventKey("event-key-1"));
        Assert.True(keys.AcceptsEventKey("event-key-2"));
        Assert.False(keys.AcceptsEventKey("event-key-3"));
        Assert.False(keys.AcceptsEventKey(null));
        Assert.True(keys.AcceptsApiToken("api-token"));
        Assert.False(keys.AcceptsApiToken("api-tokem"));
    }

    [Fact]
    public void ToString_ProductionKeys_NeverShowsASecret()
    {
        var text = Keys(ProbeKey).ToString() + new HashedSecret("event-key-1");

        Assert.DoesNotContain("ab12cd34", text, StringComparison.Ordinal);
        Assert.DoesNotContain("event-key", text, StringComparison.Ordinal);
    }

    [Fact]
    public void HashedSecret_Matches_ComparesWithFixedTimeEqualsOverHashes()
    {
        // G6: the comparison runs CryptographicOperations.FixedTimeEquals over two 32-byte SHA-256 digests, so
        // neither a common prefix nor the length of the presented value changes the work done.
        var secret = new HashedSecret("the-secret");

        Assert.True(secret.Matches("the-secret"));
        Assert.False(secret.Matches("the-secreT"));
        Assert.False(secret.Matches("the-secret-and-more"));
        Assert.False(secret.Matches(string.Empty));
        Assert.False(secret.Matches(null));
        var source = File.ReadAllText(Path.Combine(RepositoryRoot(), "Platform.Executor", "Security", "HashedSecret.cs"));
        Assert.Contains("CryptographicOperations.FixedTimeEquals(SHA256.HashData(", source, StringComparison.Ordinal);
    }

    [Fact]
    public void FromConfiguration_HashedEventKeyAndApiToken_AcceptTheSecretsButHoldNoPlaintext()
    {
        var hashedEventKey = HashedSecret.HashForConfiguration("event-key-in-vault");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Platform:SigningKey"] = ProbeKey,
            ["Platform:EventKeys:0"] = hashedEventKey,
            ["Platform:ApiToken"] = HashedSecret.HashForConfiguration("api-token-in-vault"),
        }).Build();

        var keys = PlatformKeys.FromConfiguration(configuration);

        Assert.StartsWith("sha256:", hashedEventKey, StringComparison.Ordinal);
        Assert.DoesNotContain("event-key-in-vault", hashedEventKey, StringComparison.Ordinal);
        Assert.True(keys.AcceptsEventKey("event-key-in-vault"));
        Assert.False(keys.AcceptsEventKey(hashedEventKey));
        Assert.True(keys.AcceptsApiToken("api-token-in-vault"));
        Assert.False(keys.AcceptsApiToken("api-token-in-vaulT"));
    }

    [Theory]
    [InlineData("sha256:abc")]
    [InlineData("sha256:zz00112233445566778899aabbccddeeff00112233445566778899aabbccddee")]
    public void FromConfiguration_MalformedHashedSecret_Refuses(string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Platform:SigningKey"] = ProbeKey,
            ["Platform:EventKeys:0"] = value,
            ["Platform:ApiToken"] = "token",
        }).Build();

        var error = Assert.Throws<InvalidOperationException>(() => PlatformKeys.FromConfiguration(configuration));
        Assert.Contains("64 hex digits", error.Message, StringComparison.Ordinal);
    }

    internal static PlatformKeys Keys(string signingKey, string? fallback = null) =>
        PlatformKeys.FromConfiguration(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Platform:SigningKey"] = signingKey,
            ["Platform:SigningKeyFallback"] = fallback,
            ["Platform:EventKeys:0"] = "event-key-1",
            ["Platform:EventKeys:1"] = "event-key-2",
            ["Platform:ApiToken"] = "api-token",
        }).Build());

    private static string FlipOneBit(string value)
    {
        var chars = value.ToCharArray();
        chars[^1] = (char)(chars[^1] ^ 1);
        return new string(chars);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Platform.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Platform.sln not found above the test binaries");
    }
}
