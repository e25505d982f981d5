using System.Text;
using Platform.Executor.Events;

namespace Platform.Tests.Unit;

/// <summary>Validation of an event send (protocol.md §16): every bad input gets a message naming the field.</summary>
public sealed class EventIngestParseTests
{
    private const long Now = 1_795_841_101_707;

    private static (List<IncomingEvent>? Events, string? Error) Parse(string json) => EventIngest.Parse(Encoding.UTF8.GetBytes(json), Now);

    private static string AssertInvalid(string json)
    {
        var (events, error) = Parse(json);
        Assert.Null(events);
        Assert.NotNull(error);
        return error;
    }

    [Fact]
    public void Parse_SingleObject_IsOneEventWithDefaults()
    {
        var (events, error) = Parse("""{"name":"test/hello"}""");

        Assert.Null(error);
        Assert.Equal(new IncomingEvent("test/hello", "{}", null, Now, null, null), Assert.Single(events!));
    }

    [Fact]
    public void Parse_ArrayWithEveryField_KeepsDataAndUserBytesVerbatim()
    {
        const string data = """{"b": 1,  "a":"\u00e9 é","n":1.50,"big":12345678901234567890}""";
        var json = $$$"""
            [{"name":"test/hello","data":{{{data}}},"id":"custom-id-1","ts":1700000000000,"v":"2024-01-01.1","user":{"id": 7}},
             {"name":"test/other","data":null,"id":null,"ts":null,"v":null,"user":null},
             {"name":"test/zero","ts":0}]
            """;

        var (events, error) = Parse(json);

        Assert.Null(error);
        Assert.Equal(
            [
                new IncomingEvent("test/hello", data, "custom-id-1", 1_700_000_000_000, "2024-01-01.1", """{"id": 7}"""),
                new IncomingEvent("test/other", "{}", null, Now, null, null),
                new IncomingEvent("test/zero", "{}", null, 0, null, null),
            ],
            events!);
    }

    [Theory]
    [InlineData("[]", "The array of events is empty")]
    [InlineData("\"x\"", "Expected an event object or an array of events, got a JSON string")]
    [InlineData("5", "Expected an event object or an array of events, got a JSON number")]
    [InlineData("null", "Expected an event object or an array of events, got a JSON null")]
    [InlineData("""[{"name":"a"}, 5]""", "events[1]: expected an object, got a JSON number")]
    [InlineData("""[{"name":"a"}, []]""", "events[1]: expected an object, got a JSON array")]
    [InlineData("{}", "event.name: required, a non-empty string")]
    [InlineData("""{"name":""}""", "event.name: required, a non-empty string")]
    [InlineData("""{"name":"   "}""", "event.name: required, a non-empty string")]
    [InlineData("""{"name":5}""", "event.name: required, a non-empty string")]
    [InlineData("""{"name":null}""", "event.name: required, a non-empty string")]
    [InlineData("""[{"name":"a"},{"data":{}}]""", "events[1].name: required, a non-empty string")]
    [InlineData("""{"name":"inngest/function.finished"}""", "event.name: names starting with 'inngest/' are reserved for events the platform sends")]
    [InlineData("""{"name":"INNGEST/x"}""", "event.name: names starting with 'inngest/' are reserved for events the platform sends")]
    [InlineData("""{"name":"a","data":[]}""", "event.data: expected an object, got a JSON array")]
    [InlineData("""{"name":"a","data":"s"}""", "event.data: expected an object, got a JSON string")]
    [InlineData("""{"name":"a","data":5}""", "event.data: expected an object, got a JSON number")]
    [InlineData("""{"name":"a","data":true}""", "event.data: expected an object, got a JSON true")]
    [InlineData("""{"name":"a","id":5}""", "event.id: expected a non-empty string")]
    [InlineData("""{"name":"a","id":""}""", "event.id: expected a non-empty string")]
    [InlineData("""{"name":"a","id":{}}""", "event.id: expected a non-empty string")]
    [InlineData("""{"name":"a","ts":-1}""", "event.ts: expected a non-negative integer (unix milliseconds)")]
    [InlineData("""{"name":"a","ts":1.5}""", "event.ts: expected a non-negative integer (unix milliseconds)")]
    [InlineData("""{"name":"a","ts":"1700000000000"}""", "event.ts: expected a non-negative integer (unix milliseconds)")]
    [InlineData("""{"name":"a","ts":1e30}""", "event.ts: expected a non-negative integer (unix milliseconds)")]
    [InlineData("""{"name":"a","ts":true}""", "event.ts: expected a non-negative integer (unix milliseconds)")]
    [InlineData("""{"name":"a","v":5}""", "event.v: expected a string")]
    [InlineData("""{"name":"a","user":[]}""", "event.user: expected an object")]
    [InlineData("""{"name":"a","user":"u"}""", "event.user: expected an object")]
    [InlineData("""[{"name":"a"},{"name":"b"},{"name":"c","user":1}]""", "events[2].user: expected an object")]
    public void Parse_InvalidInput_SaysWhichFieldIsWrong(string json, string expected)
    {
        Assert.Equal(expected, AssertInvalid(json));
    }

    [Theory]
    [InlineData("""{"name":"a","data":{"k":"x\u0000"}}""", "event: contains a NUL character")]
    [InlineData("""{"name":"a","data":{"k\u0000":1}}""", "event: contains a NUL character")]
    [InlineData("""{"name":"a\u0000"}""", "event: contains a NUL character")]
    [InlineData("""{"name":"a","user":{"n":"\ud800"}}""", "event: contains a string with an unpaired surrogate")]
    [InlineData("""[{"name":"a"},{"name":"b","data":{"deep":[{"k":"\udc00"}]}}]""", "events[1]: contains a string with an unpaired surrogate")]
    public void Parse_TextPostgresCannotStore_IsRejectedWithThePath(string json, string expected)
    {
        Assert.StartsWith(expected, AssertInvalid(json), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NameOrIdAtTheLengthLimit_IsAcceptedAndOneMoreIsNot()
    {
        var name256 = "n/" + new string('x', 254);
        var id256 = new string('i', 256);

        Assert.Null(Parse($$"""{"name":"{{name256}}","id":"{{id256}}"}""").Error);
        Assert.Equal("event.name: longer than 256 characters", AssertInvalid($$"""{"name":"{{name256}}x"}"""));
        Assert.Equal("event.id: longer than 256 characters", AssertInvalid($$"""{"name":"a","id":"{{id256}}i"}"""));
    }

    [Fact]
    public void Parse_5000Events_AreAcceptedAnd5001AreNot()
    {
        static string Events(int n) => "[" + string.Join(",", Enumerable.Repeat("""{"name":"a"}""", n)) + "]";

        Assert.Equal(5_000, Parse(Events(5_000)).Events!.Count);
        Assert.Equal("Too many events in one request: 5001; the limit is 5000", AssertInvalid(Events(5_001)));
    }

    [Fact]
    public void Parse_EventOverTheSizeLimit_IsRejectedWithItsSize()
    {
        var big = $$$"""[{"name":"a"},{"name":"a","data":{"s":"{{{new string('x', 530_000)}}}"}}]""";

        var error = AssertInvalid(big);

        Assert.StartsWith("events[1]: the event is 5300", error, StringComparison.Ordinal);
        Assert.EndsWith("bytes; the limit is 524288", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EventUnderTheLimitInCharactersButOverItInUtf8Bytes_IsRejected()
    {
        // 300,000 × "é" is 300,000 characters but 600,000 bytes.
        var error = AssertInvalid($$$"""{"name":"a","data":{"s":"{{{new string('é', 300_000)}}}"}}""");

        Assert.StartsWith("event: the event is 6000", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_EventJustUnderTheLimit_IsAccepted()
    {
        var (events, error) = Parse($$$"""{"name":"a","data":{"s":"{{{new string('x', 524_000)}}}"}}""");

        Assert.Null(error);
        Assert.Equal(524_008, Assert.Single(events!).DataJson.Length);
    }

    [Fact]
    public void Parse_NestingBeyondTheDepthLimit_IsRejectedAndWithinItAccepted()
    {
        static string Nested(int depth) => """{"name":"a","data":""" + string.Concat(Enumerable.Repeat("""{"k":""", depth)) + "1" + new string('}', depth) + "}";

        Assert.Null(Parse(Nested(60)).Error);
        var error = AssertInvalid(Nested(70));
        Assert.StartsWith("The body is not valid JSON", error, StringComparison.Ordinal);
        Assert.Contains("depth of 64", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("""{"name":"a"} trailing""")]
    [InlineData("""{"name":"a",}""")]
    [InlineData("""{"name":NaN}""")]
    public void Parse_NotJson_IsRejected(string body)
    {
        Assert.StartsWith("The body is not valid JSON", AssertInvalid(body), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"name\":\"a\",\"data\":{\"k\":\"x", "\"}}")]
    [InlineData("{\"name\":\"a\",\"data\":{\"k", "\":1}}")]
    public void Parse_InvalidUtf8_IsRejectedNotThrown(string before, string after)
    {
        byte[] body = [.. Encoding.UTF8.GetBytes(before), 0xFF, .. Encoding.UTF8.GetBytes(after)];

        var (events, error) = EventIngest.Parse(body, Now);

        Assert.Null(events);
        Assert.Equal("The body is not valid JSON: it is not valid UTF-8", error);
    }
}
