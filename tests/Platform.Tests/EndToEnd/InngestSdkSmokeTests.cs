using System.Text.Json;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.EndToEnd;

/// <summary>
/// One in-process platform and one Node app on the real <c>inngest</c> SDK (tests/inngest-app), synced once,
/// shared by the tests of <see cref="InngestSdkSmokeTests"/>. Each test sends its own events with fresh ids.
/// </summary>
public sealed class InngestSdkFixture : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"platform-e2e-sdk-{Guid.NewGuid():N}");
    private PlatformApp? _platform;
    private InngestNodeApp? _app;

    public PlatformApp Platform => _platform ?? throw new InvalidOperationException("not started");

    public InngestNodeApp App => _app ?? throw new InvalidOperationException("not started");

    /// <summary>The SDK's answer to the first sync.</summary>
    public JsonElement FirstSync { get; private set; }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        try
        {
            InngestNodeApp.EnsureInstalled();
            _platform = await PlatformApp.StartAsync("e2e_sdk");
            _app = await InngestNodeApp.StartAsync(_platform.BaseUrl, Path.Combine(_directory, "exec.log"));
            FirstSync = await _app.SyncAsync();
        }
        catch
        {
            // Stop what did start: the Node app must not outlive a failed start.
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        // The Node app first: it must not outlive a failed test run.
        _app?.Dispose();
        _app = null;
        if (_platform is not null)
        {
            await _platform.DisposeAsync();
            _platform = null;
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>
/// The real Inngest JS SDK (4.24.0) against the platform: sync, memoized steps, durable sleep, parallel steps,
/// retries, failure, waitForEvent (matched and timed out) and wildcard triggers, all checked through the REST API
/// and the app's own log of step-body executions.
/// </summary>
public sealed class InngestSdkSmokeTests(InngestSdkFixture fixture, ITestOutputHelper output) : IClassFixture<InngestSdkFixture>
{
    private const string Prefix = InngestNodeApp.AppId + "-";

    private HttpClient Http => fixture.Platform.Http;

    [Fact]
    public async Task Sync_NodeApp_RegistersEveryFunction()
    {
        Assert.Equal("Successfully registered", fixture.FirstSync.GetProperty("message").GetString());

        // A second sync of an unchanged app is accepted too.
        var again = await fixture.App.SyncAsync();
        Assert.Equal("Successfully registered", again.GetProperty("message").GetString());

        var functions = await PlatformHttp.GetJsonAsync(Http, $"/api/v1/functions?app={InngestNodeApp.AppId}");
        var slugs = functions.EnumerateArray().Select(f => f.GetProperty("slug").GetString()).Order(StringComparer.Ordinal).ToArray();
        string[] expected = ["counter", "crashy", "fails", "fanout", "flaky", "sleepy", "two-steps", "waiter"];
        Assert.Equal(expected.Select(e => Prefix + e), slugs);
        var url = functions.EnumerateArray().First().GetProperty("url").GetString()!;
        Assert.StartsWith(fixture.App.ServeUrl, url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoSteps_Event_CompletesWithEachStepRunOnce()
    {
        var run = await RunToEndAsync("two-steps", "test/two-steps", new { x = 1 });

        Assert.Equal("Completed", Status(run));
        Assert.Equal("A:1", run.GetProperty("output").GetProperty("a").GetString());
        Assert.Equal("A:1|B", run.GetProperty("output").GetProperty("b").GetString());
        Assert.Equal(["a", "b"], StepNames(run));
        Assert.Equal(["a", "b"], ExecutedSteps(run));
    }

    [Fact]
    public async Task Sleepy_Event_CompletesAfterDurableSleep()
    {
        var run = await RunToEndAsync("sleepy", "test/sleepy", new { });

        Assert.Equal("Completed", Status(run));
        Assert.True(run.GetProperty("output").GetProperty("slept").GetBoolean());
        var sleep = Assert.Single(run.GetProperty("steps").EnumerateArray(), s => s.GetProperty("op").GetString() == "Sleep");
        Assert.Equal("nap", sleep.GetProperty("name").GetString());
        Assert.Equal("Completed", sleep.GetProperty("status").GetString());
        Assert.Equal(["before", "nap", "after"], StepNames(run));
        Assert.Equal(["before", "after"], ExecutedSteps(run));

        // The sleep is 1 s: the run cannot have ended sooner after it started.
        var started = run.GetProperty("startedAt").GetDateTimeOffset();
        var ended = run.GetProperty("endedAt").GetDateTimeOffset();
        Assert.True(ended - started >= TimeSpan.FromSeconds(1), $"run took {(ended - started).TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task Fanout_ParallelSteps_EachRunsOnceAndSums()
    {
        var run = await RunToEndAsync("fanout", "test/fanout", new { });

        Assert.Equal("Completed", Status(run));
        Assert.Equal(6, run.GetProperty("output").GetProperty("sum").GetInt32());
        Assert.Equal(["p1", "p2", "p3", "sum"], StepNames(run).Order(StringComparer.Ordinal));
        Assert.Equal(["p1", "p2", "p3", "sum"], ExecutedSteps(run).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Flaky_FailsTwice_CompletesOnThirdAttempt()
    {
        var run = await RunToEndAsync("flaky", "test/flaky", new { });

        Assert.Equal("Completed", Status(run));
        Assert.Equal("ok", run.GetProperty("output").GetProperty("result").GetString());
        var attempts = fixture.App.ReadExecLog().Where(e => e.RunId == RunId(run)).Select(e => e.Attempt).ToArray();
        Assert.Equal([0, 1, 2], attempts);
        var step = Assert.Single(run.GetProperty("steps").EnumerateArray());
        Assert.Equal("flaky-step", step.GetProperty("name").GetString());
        Assert.Equal(2, step.GetProperty("failedAttempts").GetArrayLength());
    }

    [Fact]
    public async Task Fails_StepAlwaysThrows_RunFailedWithMessage()
    {
        var run = await RunToEndAsync("fails", "test/fails", new { });

        Assert.Equal("Failed", Status(run));
        Assert.Equal("boom", run.GetProperty("error").GetProperty("message").GetString());
        // retries: 1 → two attempts of the step body, then the run fails.
        Assert.Equal([0, 1], fixture.App.ReadExecLog().Where(e => e.RunId == RunId(run)).Select(e => e.Attempt));
    }

    [Fact]
    public async Task Waiter_MatchingEvent_CompletesApproved()
    {
        var id = Guid.NewGuid().ToString("N");
        var eventId = await PlatformHttp.SendEventAsync(Http, "test/waiter", new { id }, $"waiter-{id}");
        var runId = await PlatformHttp.RunIdOfEventAsync(Http, Prefix + "waiter", eventId);
        await PlatformHttp.WaitRunAsync(Http, runId, r => Status(r) == "Waiting", "to wait for test/approve");

        // An approval for another id must not match the `if` expression; the one for our id must.
        await PlatformHttp.SendEventAsync(Http, "test/approve", new { id = "someone-else", by = "mallory" }, $"approve-other-{id}");
        await PlatformHttp.SendEventAsync(Http, "test/approve", new { id, by = "alice" }, $"approve-{id}");
        var run = await PlatformHttp.WaitFinalAsync(Http, runId);

        Assert.Equal("Completed", Status(run));
        Assert.True(run.GetProperty("output").GetProperty("approved").GetBoolean());
        Assert.Equal("alice", run.GetProperty("output").GetProperty("by").GetString());
    }

    [Fact]
    public async Task Waiter_NoEvent_CompletesNotApprovedAfterTimeout()
    {
        var run = await RunToEndAsync("waiter", "test/waiter", new { id = Guid.NewGuid().ToString("N") });

        Assert.Equal("Completed", Status(run));
        Assert.False(run.GetProperty("output").GetProperty("approved").GetBoolean());
        Assert.Equal(JsonValueKind.Null, run.GetProperty("output").GetProperty("by").ValueKind);
        var ran = run.GetProperty("endedAt").GetDateTimeOffset() - run.GetProperty("startedAt").GetDateTimeOffset();
        Assert.True(ran >= TimeSpan.FromSeconds(3), $"the 3 s wait ended after {ran.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task Counter_WildcardTrigger_RunsForMatchingName()
    {
        var run = await RunToEndAsync("counter", "test/prefix/x", new { });

        Assert.Equal("Completed", Status(run));
        Assert.Equal("test/prefix/x", run.GetProperty("output").GetProperty("name").GetString());
        Assert.Equal(["count"], ExecutedSteps(run));
    }

    private async Task<JsonElement> RunToEndAsync(string function, string eventName, object data)
    {
        var eventId = await PlatformHttp.SendEventAsync(Http, eventName, data, $"{function}-{Guid.NewGuid():N}");
        var runId = await PlatformHttp.RunIdOfEventAsync(Http, Prefix + function, eventId);
        try
        {
            return await PlatformHttp.WaitFinalAsync(Http, runId);
        }
        catch (TimeoutException)
        {
            output.WriteLine($"Node app output:\n{fixture.App.Tail()}");
            throw;
        }
    }

    private static string? Status(JsonElement run) => run.GetProperty("status").GetString();

    private static string RunId(JsonElement run) => run.GetProperty("id").GetString()!;

    private static string[] StepNames(JsonElement run) =>
        run.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("name").GetString() ?? "").ToArray();

    /// <summary>The step bodies the app executed for this run, in order, from its EXEC_LOG.</summary>
    private string[] ExecutedSteps(JsonElement run) =>
        fixture.App.ReadExecLog().Where(e => e.RunId == RunId(run)).Select(e => e.Step).ToArray();
}
