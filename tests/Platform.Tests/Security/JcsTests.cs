using System.Text;
using Platform.Executor.Security;

namespace Platform.Tests.Security;

/// <summary>RFC 8785 canonicalization, checked against the RFC's own examples (§3.2.2, §3.2.3, Appendix B).</summary>
public sealed class JcsTests
{
    [Theory]
    [InlineData(0x0000000000000000UL, "0")]
    [InlineData(0x8000000000000000UL, "0")]
    [InlineData(0x0000000000000001UL, "5e-324")]
    [InlineData(0x8000000000000001UL, "-5e-324")]
    [InlineData(0x7fefffffffffffffUL, "1.7976931348623157e+308")]
    [InlineData(0xffefffffffffffffUL, "-1.7976931348623157e+308")]
    [InlineData(0x4340000000000000UL, "9007199254740992")]
    [InlineData(0xc340000000000000UL, "-9007199254740992")]
    [InlineData(0x4430000000000000UL, "295147905179352830000")]
    [InlineData(0x44b52d02c7e14af5UL, "9.999999999999997e+22")]
    [InlineData(0x44b52d02c7e14af6UL, "1e+23")]
    [InlineData(0x44b52d02c7e14af7UL, "1.0000000000000001e+23")]
    [InlineData(0x444b1ae4d6e2ef4eUL, "999999999999999700000")]
    [InlineData(0x444b1ae4d6e2ef4fUL, "999999999999999900000")]
    [InlineData(0x444b1ae4d6e2ef50UL, "1e+21")]
    [InlineData(0x3eb0c6f7a0b5ed8cUL, "9.999999999999997e-7")]
    [InlineData(0x3eb0c6f7a0b5ed8dUL, "0.000001")]
    [InlineData(0x41b3de4355555553UL, "333333333.3333332")]
    [InlineData(0x41b3de4355555554UL, "333333333.33333325")]
    [InlineData(0x41b3de4355555555UL, "333333333.3333333")]
    [InlineData(0x41b3de4355555556UL, "333333333.3333334")]
    [InlineData(0x41b3de4355555557UL, "333333333.33333343")]
    [InlineData(0xbecbf647612f3696UL, "-0.0000033333333333333333")]
    [InlineData(0x43143ff3c1cb0959UL, "1424953923781206.2")]
    public void FormatNumber_Rfc8785AppendixB_PrintsAsEcmaScript(ulong bits, string expected) =>
        Assert.Equal(expected, Jcs.FormatNumber(BitConverter.UInt64BitsToDouble(bits)));

    [Fact]
    public void Canonicalize_Rfc8785Section323Example_MatchesTheRfcOutput()
    {
        const string input = """
            {
              "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
              "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
              "literals": [null, true, false]
            }
            """;
        const string expected = """{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}""";

        Assert.Equal(expected, Jcs.Canonicalize(input));
    }

    [Fact]
    public void Canonicalize_Rfc8785SortingExample_SortsByUtf16CodeUnits()
    {
        const string input = """
            {
              "\u20ac": "Euro Sign",
              "\r": "Carriage Return",
              "\ufb33": "Hebrew Letter Dalet With Dagesh",
              "1": "One",
              "\ud83d\ude00": "Emoji: Grinning Face",
              "\u0080": "Control",
              "\u00f6": "Latin Small Letter O With Diaeresis"
            }
            """;

        var output = Jcs.Canonicalize(input);

        Assert.Equal(
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\","
            + "\"\u20ac\":\"Euro Sign\",\"\ud83d\ude00\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
            output);
    }

    [Fact]
    public void Canonicalize_Bytes_EmitsNonAsciiAndHtmlCharactersRawAsUtf8()
    {
        var output = Jcs.Canonicalize(Encoding.UTF8.GetBytes("""{ "b" : "<café & \u00e9>", "a" : [ 1.0, -0, 1e2 ] }"""));

        Assert.Equal("{\"a\":[1,0,100],\"b\":\"<café & é>\"}", Encoding.UTF8.GetString(output));
    }

    [Fact]
    public void Canonicalize_NestedObjects_SortsEveryLevel()
    {
        Assert.Equal(
            """{"a":{"x":[{"m":1,"n":2}],"y":null},"b":{}}""",
            Jcs.Canonicalize("""{"b":{},"a":{"y":null,"x":[{"n":2,"m":1}]}}"""));
    }
}
