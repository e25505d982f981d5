using System.Text;
using System.Text.Json;
using Platform.Tests.Infrastructure;
using WireMock.ResponseBuilders;
using Xunit.Abstractions;

namespace Platform.Tests.Executor;

/// <summary>
/// The app misbehaves (reliability.md C2, C3, C4, C5, C7, C10, C11): every bad reply becomes a recorded, retryable
/// failure (or a clear final one), never garbage stored as a step output and never a corrupted run.
/// </summary>
[Collection(ExecutorCollection.Name)]
public sealed class MalformedReplyTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    public static TheoryData<string> RetryableCases =>
    [
        "bad-json",
        "trailing-garbage",
        "nan",
        "invalid-utf8",
        "unpaired-surrogate-in-op-name",
        "nul-in-op-id",
        "nul-in-error-body-500",
        "nul-byte-in-text-error-body",
        "truncated-body",
        "json-scalar-206",
        "text-html-200",
        "200-without-sdk-header",
        "206-empty-ops",
        "206-duplicate-op-ids",
        "fault-empty-response",
        "fault-malformed-chunk",
        "slower-than-http-timeout",
    ];

    /// <summary>The first call gets the bad reply, the retry a good one.</summary>
    [Theory]
    [MemberData(nameof(RetryableCases))]
    public async Task BadReply_ThenGoodReply_RecordedAsRetryAndCompletes(string badCase)
    {
        var (bad, errorName, messagePart) = BadReply(badCase);
        await using var app = await FakeApp.StartAsync(fixture.Platform, "bad", retries: 3, call =>
            call.Attempt == 0 ? bad : AppReply.Complete("{\"ok\":true}"));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"ok\":true}", run.GetProperty("output"));
        var attempt = Assert.Single(await fixture.AttemptsAsync(runId));
        output.WriteLine($"{badCase}: attempt 0 recorded as {attempt.ErrorJson}");
        Assert.Equal(("step", 0), (attempt.StepId, attempt.Attempt));
        Assert.Equal(errorName, attempt.ErrorName);
        Assert.Contains(messagePart, attempt.ErrorMessage, StringComparison.OrdinalIgnoreCase);
        Assert.NotNull(attempt.RetryAt);
        Assert.Empty(await fixture.StepsAsync(runId));

        // The slow call shows up in WireMock's log only once it answered, after the retry.
        var calls = await app.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout);
        Assert.Equal(2, calls.Count);
        Assert.Equal([0, 1], calls.Select(c => c.Attempt));
        Assert.All(calls, c => Assert.Empty(c.Steps));
        Assert.Empty(app.ScriptErrors);
    }

    private static (AppReply Reply, string ErrorName, string MessagePart) BadReply(string badCase) => badCase switch
    {
        "bad-json" => (new AppReply { Status = 200, Body = "{\"ok\": tru" }, "InvalidReplyError", "not JSON"),
        "truncated-body" => (CutOff(AppReply.Ops(AppOp.StepRun("a", "{\"amount\":42}")), 10), "InvalidReplyError", "not JSON"),
        "json-scalar-206" => (new AppReply { Status = 206, Body = "42" }, "InvalidReplyError", "expected an array of ops"),
        "text-html-200" => (new AppReply { Status = 200, Body = "<html><body>Please log in</body></html>", ContentType = "text/html" },
            "InvalidReplyError", "text/html"),
        "200-without-sdk-header" => (new AppReply { Status = 200, Body = "{\"ok\":true}", SdkHeader = false }, "NotAnSdkReplyError", "X-Inngest-Sdk"),
        "206-empty-ops" => (AppReply.Ops(), "ProtocolError", "no ops"),
        "206-duplicate-op-ids" => (AppReply.Ops(AppOp.StepRun("a", "1"), AppOp.StepRun("a", "2")), "ProtocolError", "twice"),
        "trailing-garbage" => (new AppReply { Status = 200, Body = "{\"ok\":true} <!-- proxy -->" }, "InvalidReplyError", "not JSON"),
        "nan" => (new AppReply { Status = 206, Body = $"[{{\"id\":\"{AppOp.Id("a")}\",\"op\":\"StepRun\",\"data\":NaN}}]" }, "InvalidReplyError", "not JSON"),
        "invalid-utf8" => (new AppReply
        {
            Status = 206,
            BodyBytes = [.. Encoding.UTF8.GetBytes($"[{{\"id\":\"{AppOp.Id("a")}\",\"op\":\"StepRun\",\"data\":\""), 0xC3, 0x28, 0xFF, .. "\"}]"u8],
        }, "InvalidReplyError", "not valid UTF-8"),
        // PostgreSQL cannot store NUL (text, jsonb) or unpaired surrogates (jsonb): ids, names and errors are checked.
        "unpaired-surrogate-in-op-name" => (new AppReply { Status = 206, Body = $"[{{\"id\":\"{AppOp.Id("a")}\",\"op\":\"StepRun\",\"name\":\"\\ud800\",\"data\":1}}]" },
            "InvalidReplyError", "unpaired surrogate"),
        "nul-in-op-id" => (new AppReply { Status = 206, Body = "[{\"id\":\"a\\u0000\",\"op\":\"StepRun\",\"name\":\"a\",\"data\":1}]" }, "InvalidReplyError", "NUL"),
        "nul-in-error-body-500" => (AppReply.Error(500, "{\"name\":\"Error\",\"message\":\"a\\u0000b\"}", noRetry: false), "HttpError", "NUL"),
        "nul-byte-in-text-error-body" => (new AppReply { Status = 502, BodyBytes = [.. "Bad gateway "u8, 0, .. " upstream"u8], ContentType = "text/plain", SdkHeader = false },
            "HttpError", "Bad gateway \uFFFD upstream"),
        // WireMock.Net's faults keep the HTTP framing intact: EMPTY_RESPONSE sends the status and headers with no
        // body, MALFORMED_RESPONSE_CHUNK the first half of the body followed by random bytes.
        "fault-empty-response" => (new AppReply { Fault = FaultType.EMPTY_RESPONSE }, "InvalidReplyError", "empty body"),
        "fault-malformed-chunk" => (AppReply.Ops(AppOp.StepRun("a", "1")) with { Fault = FaultType.MALFORMED_RESPONSE_CHUNK }, "InvalidReplyError", "not JSON"),
        "slower-than-http-timeout" => (AppReply.Complete("{\"late\":true}") with { Delay = ExecutorPlatform.HttpTimeout + TimeSpan.FromSeconds(1) },
            "TimeoutError", "did not answer within 2 s"),
        _ => throw new ArgumentOutOfRangeException(nameof(badCase), badCase, "unknown case"),
    };

    /// <summary>The reply without its last <paramref name="bytes"/> characters, as if the connection broke.</summary>
    private static AppReply CutOff(AppReply reply, int bytes) => reply with { Body = reply.Body![..^bytes] };

    [Fact]
    public async Task StepError_WithUnstorableError_RecordedReadablyAndRetried()
    {
        var x = AppOp.Id("x");
        await using var app = await FakeApp.StartAsync(fixture.Platform, "nulerror", retries: 3, call => (call.Attempt, call.Steps.Count) switch
        {
            (0, 0) => AppReply.Ops(AppOp.StepError("x", "{\"name\":\"Error\",\"message\":\"a\\u0000b\"}")),
            (_, 0) => AppReply.Ops(AppOp.StepRun("x", "1")),
            _ => AppReply.Complete("{\"ok\":true}"),
        });

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"ok\":true}", run.GetProperty("output"));
        var attempt = Assert.Single(await fixture.AttemptsAsync(runId));
        Assert.Equal((x, 0), (attempt.StepId, attempt.Attempt));
        Assert.Contains("NUL", attempt.ErrorMessage);
        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal((x, "StepRun", 2), (step.StepId, step.Op, step.Attempts));
        Assert.Equal(3, (await app.WaitForCallsAsync(3, ExecutorPlatform.RunTimeout)).Count);
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task StepRun_WithUnstorableOutput_StepFailsClearlyAndTheFunctionSeesTheError()
    {
        var x = AppOp.Id("x");
        await using var app = await FakeApp.StartAsync(fixture.Platform, "nuldata", retries: 3, call =>
            call.Steps.TryGetValue(x, out var memo)
                ? AppReply.Complete($"{{\"caught\":{memo.GetProperty("error").GetProperty("name").GetRawText()}}}")
                : AppReply.Ops(AppOp.StepRun("x", "\"a\\u0000b\"")));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"caught\":\"UnstorableOutputError\"}", run.GetProperty("output"));
        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal((x, "StepFailed", "UnstorableOutputError"), (step.StepId, step.Op, step.ErrorName));
        Assert.Equal(2, (await app.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout)).Count);
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task Function200_WithUnstorableOutput_FailedClearlyAfterOneCall()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "nuloutput", retries: 3, _ =>
            AppReply.Complete("{\"s\":\"a\\u0000b\"}"));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Failed");

        Assert.Equal("UnstorableOutputError", run.GetProperty("error").GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, run.GetProperty("output").ValueKind);
        var attempt = Assert.Single(await fixture.AttemptsAsync(runId));
        Assert.Equal(("step", "UnstorableOutputError"), (attempt.StepId, attempt.ErrorName));
        Assert.Empty(await fixture.StepsAsync(runId));
        Assert.Single(await app.WaitForCallsAsync(1, ExecutorPlatform.RunTimeout));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task StepRun_WithNumberTheDatabaseRefuses_RunFailsOnceInsteadOfLooping()
    {
        // 1e1000000 is valid JSON but overflows PostgreSQL's numeric: the commit itself is refused (22003).
        await using var app = await FakeApp.StartAsync(fixture.Platform, "hugenumber", retries: 3, _ =>
            AppReply.Ops($"{{\"id\":\"{AppOp.Id("big")}\",\"op\":\"StepRun\",\"name\":\"big\",\"data\":1e1000000}}"));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Failed");

        Assert.Equal("UnstorableOutputError", run.GetProperty("error").GetProperty("name").GetString());
        Assert.Empty(await fixture.StepsAsync(runId));
        Assert.Single(await app.WaitForCallsAsync(1, ExecutorPlatform.RunTimeout));
    }

    [Fact]
    public async Task UnknownOpcode_StepFailsClearlyAndTheFunctionSeesTheError()
    {
        var teleport = AppOp.Id("teleport");
        await using var app = await FakeApp.StartAsync(fixture.Platform, "unknownop", retries: 3, call =>
            call.Steps.TryGetValue(teleport, out var memo)
                ? AppReply.Complete($"{{\"caught\":{memo.GetProperty("error").GetProperty("name").GetRawText()}}}")
                : AppReply.Ops(AppOp.Custom("teleport", "Teleport")));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"caught\":\"UnsupportedOpError\"}", run.GetProperty("output"));
        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal((teleport, "StepFailed", "UnsupportedOpError"), (step.StepId, step.Op, step.ErrorName));
        Assert.Contains("Teleport", step.Output.GetProperty("error").GetProperty("message").GetString());
        var calls = await app.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout);
        Assert.Equal(2, calls.Count);
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task AppDown_ConnectionRefused_RetriesUntilTheAppIsUpThenCompletes()
    {
        await using var app = await FakeApp.RegisterAsync(fixture.Platform, "appdown", retries: 10, _ => AppReply.Complete("{\"ok\":true}"));

        var runId = await fixture.StartRunAsync(app);
        await Eventually.WaitAsync(
            () => fixture.AttemptsAsync(runId), a => a.Count >= 2, ExecutorPlatform.RunTimeout, "two refused connections");
        app.Start();
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"ok\":true}", run.GetProperty("output"));
        var attempts = await fixture.AttemptsAsync(runId);
        Assert.Equal(Enumerable.Range(0, attempts.Count), attempts.Select(a => a.Attempt));
        Assert.All(attempts, a => Assert.Equal(("step", "ConnectionError"), (a.StepId, a.ErrorName)));
        Assert.All(attempts, a => Assert.Contains($"127.0.0.1:{app.Port}", a.ErrorMessage));
        Assert.Empty(await fixture.StepsAsync(runId));
        var call = Assert.Single(await app.WaitForCallsAsync(1, ExecutorPlatform.RunTimeout));
        Assert.Equal(attempts.Count, call.Attempt);
        output.WriteLine($"app down: {attempts.Count} refused attempts, then completed on attempt {call.Attempt}");
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task OutputTooLarge_RunFailedAndNothingStored()
    {
        var big = new string('x', 100 * 1024);
        await using var app = await FakeApp.StartAsync(fixture.Platform, "toolarge", retries: 3, _ =>
            AppReply.Ops(AppOp.StepRun("big", $"\"{big}\"")));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Failed");

        Assert.Equal("OutputTooLargeError", run.GetProperty("error").GetProperty("name").GetString());
        Assert.Empty(await fixture.StepsAsync(runId));
        var attempt = Assert.Single(await fixture.AttemptsAsync(runId));
        Assert.Equal(("step", "OutputTooLargeError", (DateTimeOffset?)null), (attempt.StepId, attempt.ErrorName, attempt.RetryAt));
        // Final at once: the retry budget is not spent on a reply that will not shrink.
        Assert.Single(await app.WaitForCallsAsync(1, ExecutorPlatform.RunTimeout));
        output.WriteLine($"output too large: a {big.Length + 200} byte reply against a {ExecutorPlatform.MaxReplyBytes} byte limit -> Failed after 1 call");
        Assert.Empty(app.ScriptErrors);
    }
}
