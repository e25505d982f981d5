using System.Text;
using FunctionSdk.Protocol;

namespace FunctionSdk.Tests.Protocol;

public sealed class SignaturesTests
{
    // protocol.md §5.2: the vector verified against the JS SDK's own signDataWithKey.
    private const string Key = "signkey-test-ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34";
    private const string Body = """{"ctx":{"attempt":0,"run_id":"01HRUN"},"event":{"data":{},"name":"test/hello"},"events":[],"steps":{}}""";
    private const string Expected = "fcd7fe1a8bcaf8bdd27cfd3a810a347a2ec2812f40ffa2bf46f8a5469e061d01";
    private static readonly DateTimeOffset s_signedAt = DateTimeOffset.FromUnixTimeSeconds(1700000000);

    [Fact]
    public void Verify_ProtocolVector_Accepts() =>
        Assert.True(Signatures.Verify($"t=1700000000&s={Expected}", Encoding.UTF8.GetBytes(Body), Key, s_signedAt));

    [Fact]
    public void Verify_PrettyPrintedBodySignedOverItsCanonicalForm_Accepts()
    {
        // The platform signs JCS(body); a body re-ordered and indented still canonicalizes to the same text.
        var pretty = """
            {
              "steps": {},
              "events": [],
              "event": { "name": "test/hello", "data": {} },
              "ctx": { "run_id": "01HRUN", "attempt": 0 }
            }
            """;
        Assert.True(Signatures.Verify($"t=1700000000&s={Expected}", Encoding.UTF8.GetBytes(pretty), Key, s_signedAt));
    }

    [Fact]
    public void Verify_TamperedBody_Rejects() =>
        Assert.False(Signatures.Verify($"t=1700000000&s={Expected}", Encoding.UTF8.GetBytes(Body.Replace("hello", "hellp", StringComparison.Ordinal)), Key, s_signedAt));

    [Theory]
    [InlineData(301)]
    [InlineData(-301)]
    public void Verify_TimestampOutsideFiveMinutes_Rejects(int skewSeconds) =>
        Assert.False(Signatures.Verify($"t=1700000000&s={Expected}", Encoding.UTF8.GetBytes(Body), Key, s_signedAt.AddSeconds(skewSeconds)));

    [Fact]
    public void Verify_TimestampWithinFiveMinutes_Accepts() =>
        Assert.True(Signatures.Verify($"t=1700000000&s={Expected}", Encoding.UTF8.GetBytes(Body), Key, s_signedAt.AddSeconds(299)));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("s=fcd7")]
    [InlineData("t=abc&s=fcd7fe1a8bcaf8bdd27cfd3a810a347a2ec2812f40ffa2bf46f8a5469e061d01")]
    public void Verify_MissingOrMalformedHeader_Rejects(string? header) =>
        Assert.False(Signatures.Verify(header, Encoding.UTF8.GetBytes(Body), Key, s_signedAt));

    [Fact]
    public void Sign_ThenVerifyEmptyBody_RoundTrips()
    {
        var header = Signatures.Sign("", Key, s_signedAt);
        Assert.True(Signatures.Verify(header, [], Key, s_signedAt));
    }

    [Theory]
    [InlineData("signkey-prod-12345678", "signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c")]
    [InlineData(Key, "signkey-test-f936c15b3f8831d8d5106c8aacc86461685f581ccd7cf045e7d3de263a82de33")]
    public void BearerToken_ProtocolVectors_Match(string key, string expected) =>
        Assert.Equal(expected, Signatures.BearerToken(key));

    [Theory]
    [InlineData("signkey-test-ab12", true)]
    [InlineData("ab12", true)]
    [InlineData("signkey-test-abc", false)]
    [InlineData("not-hex", false)]
    public void IsValidKey_Format_Checked(string key, bool valid) =>
        Assert.Equal(valid, Signatures.IsValidKey(key));
}

public sealed class JcsTests
{
    [Theory]
    [InlineData(1e21, "1e+21")]
    [InlineData(1e-7, "1e-7")]
    [InlineData(123.456, "123.456")]
    [InlineData(0.000001, "0.000001")]
    [InlineData(1.5e300, "1.5e+300")]
    [InlineData(-0.0, "0")]
    [InlineData(100, "100")]
    [InlineData(9007199254740994, "9007199254740994")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(0.30000000000000004, "0.30000000000000004")]
    [InlineData(1e20, "100000000000000000000")]
    [InlineData(-2.5, "-2.5")]
    public void FormatNumber_MatchesJavaScript(double value, string expected) =>
        // Expected values printed by Node's JSON.stringify.
        Assert.Equal(expected, Jcs.FormatNumber(value));

    [Fact]
    public void Canonicalize_SortsMembersAndEscapesMinimally()
    {
        var json = "{ \"b\": [1, 2.50, \"\\u00e9\\n\\u001f<>\"], \"a\": { \"\\u20ac\": true, \"A\": null } }";
        Assert.Equal("{\"a\":{\"A\":null,\"€\":true},\"b\":[1,2.5,\"é\\n\\u001f<>\"]}", Jcs.Canonicalize(Encoding.UTF8.GetBytes(json)));
    }
}
