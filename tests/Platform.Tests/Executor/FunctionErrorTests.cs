namespace Platform.Tests.Executor;

/// <summary>Errors thrown outside any step (protocol.md §10.5): 500 retried within the budget, 400 + no-retry final (E3).</summary>
[Collection(ExecutorCollection.Name)]
public sealed class FunctionErrorTests(ExecutorPlatform fixture)
{
    [Fact]
    public async Task Function500_TwiceThen200_Completes()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "fn500twice", retries: 3, call =>
            call.Attempt < 2
                ? AppReply.Error(500, AppOp.ErrorJson("Error", $"function level failure {call.Attempt}"), noRetry: false)
                : AppReply.Complete("{\"ok\":true}"));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Completed");

        JsonAssert.Equal("{\"ok\":true}", run.GetProperty("output"));
        var calls = await app.WaitForCallsAsync(3, ExecutorPlatform.RunTimeout);
        Assert.Equal(3, calls.Count);
        Assert.Equal([0, 1, 2], calls.Select(c => c.Attempt));
        var attempts = await fixture.AttemptsAsync(runId);
        Assert.Equal([("step", 0), ("step", 1)], attempts.Select(a => (a.StepId, a.Attempt)));
        Assert.Equal(["function level failure 0", "function level failure 1"], attempts.Select(a => a.ErrorMessage));
        // Error bodies are history, never step outputs (C1).
        Assert.Empty(await fixture.StepsAsync(runId));
        Assert.Equal(2, run.GetProperty("functionAttempts").GetArrayLength());
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task Function500_BeyondMaxAttempts_FailedWithTheErrorBody()
    {
        var error = AppOp.ErrorJson("Error", "database unreachable");
        await using var app = await FakeApp.StartAsync(fixture.Platform, "fn500always", retries: 2, _ =>
            AppReply.Error(500, error, noRetry: false));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Failed");

        JsonAssert.Equal(error, run.GetProperty("error"));
        var calls = await app.WaitForCallsAsync(3, ExecutorPlatform.RunTimeout);
        Assert.Equal(3, calls.Count);
        Assert.Equal([0, 1, 2], calls.Select(c => c.Attempt));
        Assert.All(calls, c => Assert.Equal(3, c.MaxAttempts));
        var attempts = await fixture.AttemptsAsync(runId);
        Assert.Equal([0, 1, 2], attempts.Select(a => a.Attempt));
        Assert.All(attempts, a => JsonAssert.Equal(error, a.ErrorJson));
        Assert.Null(attempts[^1].RetryAt);
        Assert.Empty(await fixture.StepsAsync(runId));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task Function400_WithNoRetryHeader_FailedAfterExactlyOneCall()
    {
        var error = AppOp.ErrorJson("NonRetriableError", "bad input");
        await using var app = await FakeApp.StartAsync(fixture.Platform, "fn400", retries: 3, _ =>
            AppReply.Error(400, error, noRetry: true));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Failed");

        JsonAssert.Equal(error, run.GetProperty("error"));
        var calls = await app.WaitForCallsAsync(1, ExecutorPlatform.RunTimeout);
        Assert.Single(calls);
        var attempt = Assert.Single(await fixture.AttemptsAsync(runId));
        Assert.Equal(("step", 0, (DateTimeOffset?)null), (attempt.StepId, attempt.Attempt, attempt.RetryAt));
        Assert.Empty(await fixture.StepsAsync(runId));
        Assert.Empty(app.ScriptErrors);
    }
}
