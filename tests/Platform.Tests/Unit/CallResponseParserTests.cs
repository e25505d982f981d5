using System.Text;
using System.Text.Json;
using Platform.Executor.Protocol;

namespace Platform.Tests.Unit;

/// <summary>Classification of an app's HTTP reply (protocol.md §10.1), malformed and hostile replies included.</summary>
public sealed class CallResponseParserTests
{
    private const string Json = "application/json";
    private const string Boom = """{"name":"Error","message":"boom","stack":"Error: boom","__serialized":true}""";

    private static CallOutcome Parse(
        int status,
        string body,
        string? contentType = Json,
        bool sdk = true,
        string? noRetry = null,
        string? retryAfter = null,
        bool tooLarge = false) =>
        CallResponseParser.Parse(new RawCallResponse(status, contentType, sdk, noRetry, retryAfter, Encoding.UTF8.GetBytes(body), tooLarge));

    private static (string Name, string Message) Error(string errorJson)
    {
        using var doc = JsonDocument.Parse(errorJson);
        return (doc.RootElement.GetProperty("name").GetString()!, doc.RootElement.GetProperty("message").GetString()!);
    }

    private static string AssertRetryable(CallOutcome outcome, int? status, string errorName)
    {
        var failed = Assert.IsType<CallFailed>(outcome);
        Assert.False(failed.Final);
        Assert.Equal(status, failed.StatusCode);
        var (name, message) = Error(failed.ErrorJson);
        Assert.Equal(errorName, name);
        return message;
    }

    // ---- 200 ---------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("""{"b": "AB"}""", """{"b": "AB"}""")]
    [InlineData(" \r\n\t\"done\" \n", "\"done\"")]
    [InlineData("null", "null")]
    [InlineData("[1, 2.50]", "[1, 2.50]")]
    public void Parse_200WithJson_CompletesWithTheRawValue(string body, string output)
    {
        Assert.Equal(new FunctionCompleted(output), Parse(200, body));
    }

    [Theory]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("APPLICATION/JSON")]
    [InlineData("application/problem+json")]
    public void Parse_200WithAJsonContentTypeVariant_IsAccepted(string contentType)
    {
        Assert.IsType<FunctionCompleted>(Parse(200, "1", contentType));
    }

    [Theory]
    [InlineData(200)]
    [InlineData(206)]
    public void Parse_2xxWithoutSdkHeader_IsRetryableNotAnSdkReply(int status)
    {
        // A proxy or a login page answering 200 must not complete the run.
        var message = AssertRetryable(Parse(status, """[{"id":"a","op":"StepRun"}]""", sdk: false), status, "NotAnSdkReplyError");

        Assert.Contains("X-Inngest-Sdk", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("text/html")]
    [InlineData("text/plain; charset=utf-8")]
    [InlineData(null)]
    public void Parse_2xxWithANonJsonContentType_IsRetryable(string? contentType)
    {
        var message = AssertRetryable(Parse(200, "<html>Bad gateway</html>", contentType), 200, "InvalidReplyError");

        Assert.Contains(contentType ?? "no content type", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n")]
    [InlineData("{")]
    [InlineData("""[{"id":"a","op":"StepRun","data":""")]
    [InlineData("""{"a":1} trailing""")]
    [InlineData("""{"a":1}{"b":2}""")]
    [InlineData("""{"a":NaN}""")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("{'a':1}")]
    [InlineData("[1,]")]
    public void Parse_2xxWithABodyThatIsNotJson_IsRetryable(string body)
    {
        foreach (var status in new[] { 200, 206 })
        {
            var message = AssertRetryable(Parse(status, body), status, "InvalidReplyError");

            Assert.Contains("not JSON", message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(200)]
    [InlineData(206)]
    [InlineData(201)]
    public void Parse_2xxBodyNotValidUtf8_IsRetryableNotThrown(int status)
    {
        // JsonDocument accepts invalid UTF-8 inside strings and throws only when the text is read.
        byte[] body = [.. "[{\"id\":\"a\",\"op\":\"StepRun\",\"data\":\""u8, 0xFF, .. "\"}]"u8];

        var outcome = CallResponseParser.Parse(new RawCallResponse(status, Json, true, null, null, body, false));

        Assert.Contains("UTF-8", AssertRetryable(outcome, status, "InvalidReplyError"), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_2xxBodyNestedDeeperThanTheLimit_IsRetryableNotAStackOverflow()
    {
        var body = new string('[', 10_000) + new string(']', 10_000);

        AssertRetryable(Parse(200, body), 200, "InvalidReplyError");
    }

    [Theory]
    [InlineData(200)]
    [InlineData(206)]
    [InlineData(500)]
    public void Parse_BodyTooLarge_IsFinal(int status)
    {
        var failed = Assert.IsType<CallFailed>(Parse(status, "", tooLarge: true));

        Assert.True(failed.Final);
        Assert.Equal("OutputTooLargeError", Error(failed.ErrorJson).Name);
    }

    // ---- 206 ---------------------------------------------------------------------------------------------------

    [Fact]
    public void Parse_206WithTheProbedStepRun_KeepsEveryFieldRaw()
    {
        const string body = """
            [{"id":"86f7e437faa5a7fce15d1ddcb9eaeaea377667b8","op":"StepRun","name":"a","opts":{"type":"step.sendEvent"},
              "displayName":"a","userland":{"id":"a"},"data":{"ids": ["01H", 2.50]},"timing":{"a":1795841101734000000,"b":0}}]
            """;

        var ops = Assert.IsType<OpsReturned>(Parse(206, body));

        Assert.False(ops.NoRetry);
        Assert.Null(ops.RetryAfter);
        var op = Assert.Single(ops.Ops);
        Assert.Equal(("86f7e437faa5a7fce15d1ddcb9eaeaea377667b8", OpNames.StepRun, "a", "a"), (op.Id, op.Name, op.StepName, op.DisplayName));
        Assert.Equal("""{"ids": ["01H", 2.50]}""", op.DataJson);
        Assert.Null(op.ErrorJson);
        Assert.Equal("step.sendEvent", op.OptString("type"));
    }

    [Fact]
    public void Parse_206StepErrorWithHeaders_CarriesNoRetryRetryAfterAndTheErrorObject()
    {
        var body = $$"""[{"id":"0612","op":"StepError","name":"flaky","opts":{},"error":{{Boom}},"data":null}]""";

        var ops = Assert.IsType<OpsReturned>(Parse(206, body, noRetry: "false", retryAfter: "30"));

        Assert.False(ops.NoRetry);
        Assert.Equal(new RetryAfter(TimeSpan.FromSeconds(30), null), ops.RetryAfter);
        var op = Assert.Single(ops.Ops);
        Assert.Equal(Boom, op.ErrorJson);
        Assert.Equal("null", op.DataJson);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData(" true ", true)]
    [InlineData("false", false)]
    [InlineData("1", false)]
    [InlineData("yes", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Parse_206NoRetryHeader_OnlyTrueMeansNoRetry(string? header, bool noRetry)
    {
        var ops = Assert.IsType<OpsReturned>(Parse(206, $$"""[{"id":"a","op":"StepFailed","error":{{Boom}}}]""", noRetry: header));

        Assert.Equal(noRetry, ops.NoRetry);
    }

    [Fact]
    public void Parse_206SingleObject_IsOneOp()
    {
        // Go accepts a single op object as well as an array.
        var ops = Assert.IsType<OpsReturned>(Parse(206, """{"id":"a","op":"StepPlanned","name":"a"}"""));

        Assert.Equal(("a", OpNames.StepPlanned), (Assert.Single(ops.Ops).Id, ops.Ops[0].Name));
    }

    [Fact]
    public void Parse_206EmptyArray_IsNoOps()
    {
        // Classified here; the state machine turns "nothing to do" into a retryable protocol error.
        Assert.Empty(Assert.IsType<OpsReturned>(Parse(206, "[]")).Ops);
    }

    [Fact]
    public void Parse_206WithLeakedInternalFields_IgnoresThem()
    {
        // In the checkpoint-fallback path v4 leaks internal fields into ops (protocol.md §10.2).
        const string body = """
            [{"id":"a","op":"StepPlanned","name":"a","mode":"sync","rawArgs":[1],"hashedId":"a","promise":{},"fulfilled":false,
              "hasStepState":false,"handled":true,"middleware":{},"memoizationDeferred":null,"transformedResultPromise":{}}]
            """;

        var op = Assert.Single(Assert.IsType<OpsReturned>(Parse(206, body)).Ops);

        Assert.Equal(("a", OpNames.StepPlanned), (op.Id, op.Name));
    }

    [Theory]
    [InlineData("\"ops\"", "String")]
    [InlineData("42", "Number")]
    [InlineData("true", "True")]
    [InlineData("null", "Null")]
    public void Parse_206ScalarBody_IsRetryable(string body, string kind)
    {
        var message = AssertRetryable(Parse(206, body), 206, "InvalidReplyError");

        Assert.Contains(kind, message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"id":"a","op":"StepRun"}, 7]""", "an op is a JSON Number")]
    [InlineData("""[{"id":"a","op":"StepRun"}, [1]]""", "an op is a JSON Array")]
    [InlineData("""[{"id":"a","name":"a"}]""", "no \"op\" field")]
    [InlineData("""[{"id":"a","op":""}]""", "no \"op\" field")]
    [InlineData("""[{"id":"a","op":7}]""", "no \"op\" field")]
    [InlineData("""[{"op":"StepRun","data":1}]""", "a StepRun op has no \"id\"")]
    [InlineData("""[{"op":"StepPlanned","id":""}]""", "a StepPlanned op has no \"id\"")]
    [InlineData("""[{"op":"Sleep","id":5,"name":"1s"}]""", "a Sleep op has no \"id\"")]
    public void Parse_206WithAnInvalidOp_IsRetryableAndSaysWhy(string body, string why)
    {
        var message = AssertRetryable(Parse(206, body), 206, "InvalidReplyError");

        Assert.Contains(why, message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_206OpIdLongerThan128_IsRetryable()
    {
        var body = $$"""[{"op":"StepRun","id":"{{new string('a', 129)}}"}]""";

        Assert.Contains("longer than 128", AssertRetryable(Parse(206, body), 206, "InvalidReplyError"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"op":"RunComplete","data":{"b":"AB"}}]""", OpNames.RunComplete)]
    [InlineData("""[{"op":"DiscoveryRequest"}]""", OpNames.DiscoveryRequest)]
    public void Parse_206OpsThatNeedNoId_AreAccepted(string body, string opName)
    {
        var op = Assert.Single(Assert.IsType<OpsReturned>(Parse(206, body)).Ops);

        Assert.Equal(("", opName), (op.Id, op.Name));
    }

    [Fact]
    public void Parse_206OptsThatAreNotAnObjectAndNullError_AreDropped()
    {
        var op = Assert.Single(Assert.IsType<OpsReturned>(Parse(206, """[{"id":"a","op":"Sleep","name":"1s","opts":"x","error":null}]""")).Ops);

        Assert.Null(op.Opts);
        Assert.Null(op.ErrorJson);
        Assert.Null(op.DataJson);
        Assert.Null(op.OptString("duration"));
    }

    [Theory]
    [InlineData("""[{"id":"a\u0000","op":"StepRun","data":1}]""", "id")]
    [InlineData("""[{"id":"a","op":"StepRun","name":"n\u0000","data":1}]""", "name")]
    [InlineData("""[{"id":"a","op":"StepRun","displayName":"\ud800","data":1}]""", "displayName")]
    [InlineData("""[{"id":"a","op":"WaitForEvent","name":"e","opts":{"timeout":"1h","if":"x\u0000"}}]""", "opts")]
    public void Parse_206OpWhoseIdOrNamesPostgresCannotStore_IsRetryable(string body, string field)
    {
        // The step's data may hold anything (the state machine turns it into a step failure), but ids and names
        // go into text columns that refuse NUL: the commit would fail on every retry.
        var message = AssertRetryable(Parse(206, body), 206, "InvalidReplyError");

        Assert.Contains($"\"{field}\"", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_206StepRunDataPostgresCannotStore_IsStillParsed()
    {
        var op = Assert.Single(Assert.IsType<OpsReturned>(Parse(206, """[{"id":"a","op":"StepRun","data":"\u0000"}]""")).Ops);

        Assert.Equal("\"\\u0000\"", op.DataJson);
    }

    // ---- Errors ------------------------------------------------------------------------------------------------

    [Fact]
    public void Parse_400WithNoRetry_IsFinalWithTheSdkError()
    {
        var failed = Assert.IsType<CallFailed>(Parse(400, Boom, noRetry: "true"));

        Assert.Equal(new CallFailed(400, Boom, Final: true, null), failed);
    }

    [Theory]
    [InlineData("false")]
    [InlineData(null)]
    public void Parse_400WithoutNoRetry_IsRetryable(string? noRetry)
    {
        Assert.Equal(new CallFailed(400, Boom, Final: false, null), Parse(400, Boom, noRetry: noRetry));
    }

    [Fact]
    public void Parse_500WithNoRetryFalse_IsRetryableWithTheSdkErrorAndRetryAfter()
    {
        var failed = Assert.IsType<CallFailed>(Parse(500, Boom, noRetry: "false", retryAfter: "12"));

        Assert.Equal(new CallFailed(500, Boom, Final: false, new RetryAfter(TimeSpan.FromSeconds(12), null)), failed);
    }

    [Fact]
    public void Parse_500WithNoRetryTrue_IsFinal()
    {
        // Go never retries a reply flagged no-retry, whatever its status (protocol.md §12).
        Assert.True(Assert.IsType<CallFailed>(Parse(500, Boom, noRetry: "true")).Final);
    }

    [Fact]
    public void Parse_500StepNotFound_IsRetryableWithTheSdkBody()
    {
        const string body = """{"error":"Could not find step \"x\" to run; timed out","requestedStep":"x","foundSteps":[],"totalFoundSteps":0}""";

        Assert.Equal(new CallFailed(500, body, Final: false, null), Parse(500, body, noRetry: "false"));
    }

    [Fact]
    public void Parse_401FromTheSdk_IsRetryable()
    {
        Assert.Equal(new CallFailed(401, """{"message":"Unauthorized"}""", Final: false, null), Parse(401, """{"message":"Unauthorized"}"""));
    }

    [Theory]
    [InlineData(400)]
    [InlineData(502)]
    public void Parse_ErrorWithoutSdkHeader_IsRetryableHttpErrorEvenWithNoRetry(int status)
    {
        var page = "<html>" + new string('x', 5_000) + "</html>";

        var message = AssertRetryable(Parse(status, page, "text/html", sdk: false, noRetry: "true"), status, "HttpError");

        Assert.Contains("not the SDK", message, StringComparison.Ordinal);
        Assert.Contains("<html>xxx", message, StringComparison.Ordinal);
        Assert.True(message.Length < 700, "the body is cut, not copied whole");
    }

    [Theory]
    [InlineData("\"a string\"")]
    [InlineData("not json")]
    [InlineData("")]
    public void Parse_SdkErrorWhoseBodyIsNotAnObject_IsWrapped(string body)
    {
        var message = AssertRetryable(Parse(500, body), 500, "HttpError");

        Assert.StartsWith("HTTP 500 from the app", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(204)]
    [InlineData(302)]
    [InlineData(404)]
    [InlineData(429)]
    [InlineData(503)]
    public void Parse_OtherStatuses_AreRetryable(int status)
    {
        var failed = Assert.IsType<CallFailed>(Parse(status, "", sdk: false));

        Assert.Equal((status, false), (failed.StatusCode, failed.Final));
    }

    // ---- 201 streamed envelope (protocol.md §17.3) -------------------------------------------------------------

    [Fact]
    public void Parse_201StreamedOps_UnwrapsStatusHeadersAndBody()
    {
        const string body = "    \n  " + """
            {"status":206,"headers":{"content-type":"application/json","x-inngest-no-retry":"true","Retry-After":"5"},
             "body":"[{\"id\":\"a\",\"op\":\"StepFailed\",\"error\":{\"name\":\"E\",\"message\":\"m\"}}]"}
            """;

        var ops = Assert.IsType<OpsReturned>(Parse(201, body, contentType: "text/plain", sdk: false));

        Assert.True(ops.NoRetry);
        Assert.Equal(new RetryAfter(TimeSpan.FromSeconds(5), null), ops.RetryAfter);
        Assert.Equal("""{"name":"E","message":"m"}""", Assert.Single(ops.Ops).ErrorJson);
    }

    [Fact]
    public void Parse_201StreamedCompletion_CompletesWithTheInnerBody()
    {
        Assert.Equal(new FunctionCompleted("""{"b":"AB"}"""), Parse(201, """ {"status":200,"body":"{\"b\":\"AB\"}"} """));
    }

    [Fact]
    public void Parse_201StreamedError_IsTheInnerErrorWithItsNoRetry()
    {
        var failed = Assert.IsType<CallFailed>(Parse(201, """{"status":400,"headers":{"X-Inngest-No-Retry":"true"},"body":"{\"name\":\"E\",\"message\":\"m\"}"}"""));

        Assert.Equal(new CallFailed(400, """{"name":"E","message":"m"}""", Final: true, null), failed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("{\"status\":200")]
    [InlineData("[]")]
    [InlineData("""{"body":"1"}""")]
    [InlineData("""{"status":"200","body":"1"}""")]
    [InlineData("""{"status":200,"body":1}""")]
    [InlineData("""{"status":201,"body":"{\"status\":200,\"body\":\"1\"}"}""")]
    public void Parse_201WithABrokenEnvelope_IsRetryable(string body)
    {
        AssertRetryable(Parse(201, body), 201, "InvalidReplyError");
    }

    // ---- Retry-After (protocol.md §14.4) -----------------------------------------------------------------------

    [Theory]
    [InlineData("30", 30)]
    [InlineData(" 30 ", 30)]
    [InlineData("0", 0)]
    [InlineData("1234567", 1_234_567)]
    public void ParseRetryAfter_Seconds_IsADelay(string header, int seconds)
    {
        Assert.Equal(new RetryAfter(TimeSpan.FromSeconds(seconds), null), CallResponseParser.ParseRetryAfter(header));
    }

    [Theory]
    [InlineData("Sat, 28 Nov 2026 12:02:00 GMT", "2026-11-28T12:02:00Z")]
    [InlineData("2026-11-28T12:00:42.500Z", "2026-11-28T12:00:42.5Z")]
    [InlineData("2026-11-28T13:00:00+01:00", "2026-11-28T12:00:00Z")]
    public void ParseRetryAfter_Date_IsAnInstant(string header, string instant)
    {
        Assert.Equal(new RetryAfter(null, DateTimeOffset.Parse(instant, System.Globalization.CultureInfo.InvariantCulture)), CallResponseParser.ParseRetryAfter(header));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("-5")]
    [InlineData("+5")]
    [InlineData("12345678")]
    [InlineData("soon")]
    [InlineData("5m")]
    [InlineData("1.5")]
    [InlineData("12.31")]
    public void ParseRetryAfter_Garbage_IsIgnored(string? header)
    {
        // "12.31" must not become 31 December (then clamped to a 24-hour wait).
        Assert.Null(CallResponseParser.ParseRetryAfter(header));
    }

    [Fact]
    public void RetryAfterResolve_ClampsToOneSecondAndOneDay()
    {
        var now = new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

        Assert.Equal(now.AddSeconds(1), new RetryAfter(TimeSpan.Zero, null).Resolve(now));
        Assert.Equal(now.AddSeconds(1), new RetryAfter(null, now.AddDays(-3)).Resolve(now));
        Assert.Equal(now.AddSeconds(90), new RetryAfter(TimeSpan.FromSeconds(90), null).Resolve(now));
        Assert.Equal(now.AddHours(24), new RetryAfter(null, now.AddDays(3)).Resolve(now));
        Assert.Equal(now.AddSeconds(1), new RetryAfter(null, null).Resolve(now));
    }
}
