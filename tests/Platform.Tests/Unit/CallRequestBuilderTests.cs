using System.Text;
using System.Text.Json;
using Platform.Executor.Runs;

namespace Platform.Tests.Unit;

/// <summary>The body of a call request (protocol.md §9.2): stored JSON goes out byte for byte, in stack order.</summary>
public sealed class CallRequestBuilderTests
{
    private const string Event = """{"name":"test/hello", "data":{"k": 1.50, "s":"caf\u00e9 é"},"id":"01HEVT","ts":1700000000000,"user":{}}""";
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Build_WithMemo_WritesCtxEventEventsStepsAndVersionExactly()
    {
        KeyValuePair<string, string>[] memo =
        [
            new("b", """{"data": [1, 2.50]}"""),
            new("a", "null"),
            new("c", """{"error":{"name":"E","message":"caf\u00e9 é"}}"""),
        ];

        var body = CallRequestBuilder.Build("01HRUN", Replies.Step("c", s_t0, attempt: 2), 5, true, Event, memo);

        const string expected =
            "{\"ctx\":{\"run_id\":\"01HRUN\",\"attempt\":2,\"max_attempts\":5,\"disable_immediate_execution\":true,\"use_api\":false," +
            "\"stack\":{\"stack\":[\"b\",\"a\",\"c\"],\"current\":3}}," +
            "\"event\":" + Event + ",\"events\":[" + Event + "]," +
            "\"steps\":{\"b\":{\"data\": [1, 2.50]},\"a\":null,\"c\":{\"error\":{\"name\":\"E\",\"message\":\"caf\\u00e9 é\"}}},\"version\":-1}";
        Assert.Equal(expected, Encoding.UTF8.GetString(body));
    }

    [Fact]
    public void Build_FirstDiscovery_HasAnEmptyStackAndSteps()
    {
        var body = CallRequestBuilder.Build("01HRUN", WorkItem.Discovery(s_t0), 4, false, Event, []);

        Assert.Equal(
            """{"ctx":{"run_id":"01HRUN","attempt":0,"max_attempts":4,"disable_immediate_execution":false,"use_api":false,"stack":{"stack":[],"current":0}},""" +
            "\"event\":" + Event + ",\"events\":[" + Event + "],\"steps\":{},\"version\":-1}",
            Encoding.UTF8.GetString(body));
    }

    [Fact]
    public void Build_ManyMemoizedSteps_IsValidJsonThatKeepsStackOrder()
    {
        // Stack order is completion order, not key order: the SDK replays in it (protocol.md §12).
        var memo = Enumerable.Range(0, 500).Select(i => new KeyValuePair<string, string>($"{(i * 7919) % 1000:x40}", $$"""{"data":{{i}}}""")).ToList();

        var body = CallRequestBuilder.Build("01HRUN", WorkItem.Discovery(s_t0), 5, false, Event, memo);

        using var doc = JsonDocument.Parse(body);
        var stack = doc.RootElement.GetProperty("ctx").GetProperty("stack");
        Assert.Equal(memo.Select(m => m.Key), stack.GetProperty("stack").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(500, stack.GetProperty("current").GetInt32());
        Assert.Equal(memo.Select(m => m.Key), doc.RootElement.GetProperty("steps").EnumerateObject().Select(p => p.Name));
        Assert.Equal("test/hello", doc.RootElement.GetProperty("events")[0].GetProperty("name").GetString());
    }

    [Fact]
    public void EventJson_Minimal_HasNameDataIdTsAndEmptyUser()
    {
        Assert.Equal(
            """{"name":"test/hello","data":{"k": 1},"id":"01HEVT","ts":1700000000000,"user":{}}""",
            CallRequestBuilder.EventJson("test/hello", """{"k": 1}""", "01HEVT", 1_700_000_000_000, null, null));
    }

    [Fact]
    public void EventJson_WithUserAndVersion_KeepsThemAndEscapesStrings()
    {
        var json = CallRequestBuilder.EventJson("test/\"quoted\" é", "{}", "id-\"1\"", 0, """{"id": 7}""", "2024-01-01.1");

        Assert.EndsWith(""","ts":0,"user":{"id": 7},"v":"2024-01-01.1"}""", json, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("test/\"quoted\" é", doc.RootElement.GetProperty("name").GetString());
        Assert.Equal("id-\"1\"", doc.RootElement.GetProperty("id").GetString());
    }
}
