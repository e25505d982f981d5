using System.Text.Json;
using System.Text.Json.Nodes;

namespace Platform.Tests.Executor;

/// <summary>Compares JSON by value: PostgreSQL's jsonb and the API re-format what the app sent.</summary>
public static class JsonAssert
{
    public static void Equal(string expectedJson, string actualJson)
    {
        var equal = JsonNode.DeepEquals(JsonNode.Parse(expectedJson), JsonNode.Parse(actualJson));
        Assert.True(equal, $"JSON differs.\nExpected: {expectedJson}\nActual:   {actualJson}");
    }

    public static void Equal(string expectedJson, JsonElement actual) => Equal(expectedJson, actual.GetRawText());
}
