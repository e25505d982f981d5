using System.Text.Json;
using Platform.Executor.Protocol;

namespace Platform.Tests.Unit;

/// <summary>What PostgreSQL's jsonb refuses: NUL and unpaired surrogates, in values and in keys, at any depth.</summary>
public sealed class JsonSafetyTests
{
    [Theory]
    [InlineData("{}")]
    [InlineData("null")]
    [InlineData("""{"a":"plain","n":[1,2.5,true,null]}""")]
    [InlineData("""{"emoji":"😀","é":"café"}""")]
    [InlineData("""{"emoji":"\ud83d\ude00","e":"\u00e9"}""")]
    [InlineData("""{"\ud83d\ude00":"key with a valid pair"}""")]
    [InlineData("""{"text":"\\u0000 is only text here"}""")]
    [InlineData("""["\u0001\u001f\t\n"]""")]
    public void FindUnstorable_StorableJson_IsNull(string json)
    {
        Assert.Null(JsonSafety.FindUnstorable(json));
        using var doc = JsonDocument.Parse(json);
        Assert.Null(JsonSafety.FindUnstorable(doc.RootElement));
    }

    [Theory]
    [InlineData("""{"a":"x\u0000y"}""")]
    [InlineData("""{"a\u0000":1}""")]
    [InlineData("""[1,[2,[3,{"deep":["\u0000"]}]]]""")]
    [InlineData("\"\\u0000\"")]
    public void FindUnstorable_Nul_IsReported(string json)
    {
        Assert.Contains("NUL", JsonSafety.FindUnstorable(json), StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json);
        Assert.Contains("NUL", JsonSafety.FindUnstorable(doc.RootElement), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"a":"\ud800"}""")]
    [InlineData("""{"a":"\ud800x"}""")]
    [InlineData("""{"a":"\udc00"}""")]
    [InlineData("""{"a":"\udc00\ud800"}""")]
    [InlineData("""{"a":"ok \ud83d\ude00 then \ud83d"}""")]
    [InlineData("""{"\udfff":1}""")]
    [InlineData("""[{"a":["\ud800"]}]""")]
    public void FindUnstorable_UnpairedSurrogate_IsReported(string json)
    {
        Assert.Contains("unpaired surrogate", JsonSafety.FindUnstorable(json), StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json);
        Assert.Contains("unpaired surrogate", JsonSafety.FindUnstorable(doc.RootElement), StringComparison.Ordinal);
    }

    [Fact]
    public void FindUnstorable_InvalidJsonWithAnEscape_IsReportedAsInvalid()
    {
        Assert.StartsWith("invalid JSON", JsonSafety.FindUnstorable("""{"a":"\u0000"""), StringComparison.Ordinal);
    }
}
