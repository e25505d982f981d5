using Xunit.Abstractions;

namespace Platform.Tests.Executor;

/// <summary>Step errors: retries with their attempt numbers, no-retry, StepFailed, and <c>Retry-After</c> (E4).</summary>
[Collection(ExecutorCollection.Name)]
public sealed class StepRetryTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    private static readonly string s_flaky = AppOp.Id("flaky");

    [Fact]
    public async Task StepError_TwiceThenStepRun_RetriesWithAttemptNumbersAndRecordsEachFailure()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "steperror", retries: 3, call =>
        {
            if (call.Steps.TryGetValue(s_flaky, out var memo))
            {
                return AppReply.Complete($"{{\"flaky\":{memo.GetProperty("data").GetRawText()}}}");
            }

            return call.Attempt < 2
                ? AppReply.Ops(AppOp.StepError("flaky", AppOp.ErrorJson("Error", $"boom on attempt {call.Attempt}"))).WithHeader("X-Inngest-No-Retry", "false")
                : AppReply.Ops(AppOp.StepRun("flaky", "\"ok\""));
        });

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"flaky\":\"ok\"}", run.GetProperty("output"));
        var calls = await app.WaitForCallsAsync(4, ExecutorPlatform.RunTimeout);
        Assert.Equal(4, calls.Count);
        // The same call again with attempt + 1, then a fresh discovery (attempt 0) once the step is stored.
        Assert.Equal([0, 1, 2, 0], calls.Select(c => c.Attempt));
        Assert.All(calls, c => Assert.Equal(("step", 4), (c.StepId, c.MaxAttempts)));

        var attempts = await fixture.AttemptsAsync(runId);
        Assert.Equal([(s_flaky, 0), (s_flaky, 1)], attempts.Select(a => (a.StepId, a.Attempt)));
        Assert.Equal(["boom on attempt 0", "boom on attempt 1"], attempts.Select(a => a.ErrorMessage));
        Assert.All(attempts, a => Assert.NotNull(a.RetryAt));

        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal((s_flaky, "StepRun", 3), (step.StepId, step.Op, step.Attempts));
        JsonAssert.Equal("{\"data\":\"ok\"}", step.OutputJson);
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task StepError_WithNoRetryHeader_StoredAsErrorAtOnce()
    {
        var error = AppOp.ErrorJson("CardDeclined", "insufficient funds");
        await using var app = await FakeApp.StartAsync(fixture.Platform, "noretry", retries: 3, call =>
            call.Steps.TryGetValue(s_flaky, out var memo)
                // The function catches the step's error and returns normally.
                ? AppReply.Complete($"{{\"caught\":{memo.GetProperty("error").GetProperty("name").GetRawText()}}}")
                : AppReply.Ops(AppOp.StepError("flaky", error)).WithHeader("X-Inngest-No-Retry", "true"));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"caught\":\"CardDeclined\"}", run.GetProperty("output"));
        var calls = await app.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout);
        Assert.Equal(2, calls.Count);
        Assert.Equal([0, 0], calls.Select(c => c.Attempt));
        JsonAssert.Equal($"{{\"error\":{error}}}", calls[1].Steps[s_flaky]);

        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal(("StepFailed", 1), (step.Op, step.Attempts));
        JsonAssert.Equal($"{{\"error\":{error}}}", step.OutputJson);
        var attempt = Assert.Single(await fixture.AttemptsAsync(runId));
        Assert.Equal((s_flaky, 0, (DateTimeOffset?)null), (attempt.StepId, attempt.Attempt, attempt.RetryAt));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task StepFailed_ThenAppRethrows400_RunFailedWithTheError()
    {
        var error = AppOp.ErrorJson("NonRetriableError", "card expired");
        await using var app = await FakeApp.StartAsync(fixture.Platform, "stepfailed", retries: 3, call =>
            call.Steps.TryGetValue(s_flaky, out var memo)
                // Uncaught: the SDK re-throws the memoized error out of the function, 400 + no-retry.
                ? AppReply.Error(400, memo.GetProperty("error").GetRawText(), noRetry: true)
                : AppReply.Ops(AppOp.StepFailed("flaky", error)).WithHeader("X-Inngest-No-Retry", "true"));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Failed");

        JsonAssert.Equal(error, run.GetProperty("error"));
        var calls = await app.WaitForCallsAsync(2, ExecutorPlatform.RunTimeout);
        Assert.Equal(2, calls.Count);
        JsonAssert.Equal($"{{\"error\":{error}}}", calls[1].Steps[s_flaky]);

        var step = Assert.Single(await fixture.StepsAsync(runId));
        Assert.Equal((s_flaky, "StepFailed"), (step.StepId, step.Op));
        JsonAssert.Equal($"{{\"error\":{error}}}", step.OutputJson);
        var attempts = await fixture.AttemptsAsync(runId);
        Assert.Equal([(s_flaky, 0), ("step", 0)], attempts.Select(a => (a.StepId, a.Attempt)));
        Assert.All(attempts, a => JsonAssert.Equal(error, a.ErrorJson));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task StepError_WithRetryAfter2s_NextAttemptNotEarlierThan2s()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "retryafter", retries: 3, call =>
        {
            if (call.Steps.ContainsKey(s_flaky))
            {
                return AppReply.Complete("\"done\"");
            }

            return call.Attempt == 0
                ? AppReply.Ops(AppOp.StepError("flaky", AppOp.ErrorJson("RetryAfterError", "rate limited")))
                    .WithHeader("X-Inngest-No-Retry", "false")
                    .WithHeader("Retry-After", "2")
                : AppReply.Ops(AppOp.StepRun("flaky", "1"));
        });

        var runId = await fixture.StartRunAsync(app);
        await fixture.WaitForFinalAsync(runId, "Completed");

        var calls = await app.WaitForCallsAsync(3, ExecutorPlatform.RunTimeout);
        Assert.Equal(3, calls.Count);
        Assert.Equal([0, 1, 0], calls.Select(c => c.Attempt));
        var gap = calls[1].ReceivedAt - calls[0].ReceivedAt;
        output.WriteLine($"Retry-After: 2 -> next attempt {gap.TotalMilliseconds:0} ms after the failed one");
        Assert.True(gap >= TimeSpan.FromSeconds(2), $"the retry came {gap.TotalMilliseconds:0} ms after the failed attempt; Retry-After asked for 2000 ms");

        var attempt = Assert.Single(await fixture.AttemptsAsync(runId));
        Assert.Equal("RetryAfterError", attempt.ErrorName);
        Assert.NotNull(attempt.RetryAt);
        Assert.True(calls[1].ReceivedAt >= attempt.RetryAt!.Value.UtcDateTime, $"called at {calls[1].ReceivedAt:O}, before retry_at {attempt.RetryAt:O}");
        Assert.Empty(app.ScriptErrors);
    }
}
