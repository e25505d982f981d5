using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Parity;

/// <summary>
/// Function timeouts (<c>timeouts.start</c>, <c>timeouts.finish</c>): a run past one is cancelled with an
/// <c>InngestFunctionTimeoutError</c>, calls the app no more, and its lifecycle events say why.
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class TimeoutTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    private static Action<FakeApp, JsonObject> Timeouts(string? start, string? finish) => (_, f) =>
    {
        var timeouts = new JsonObject();
        if (start is not null)
        {
            timeouts["start"] = start;
        }

        if (finish is not null)
        {
            timeouts["finish"] = finish;
        }

        f["timeouts"] = timeouts;
    };

    [Fact]
    public async Task FinishTimeout_RunStillSleepingAtIt_CancelledWithATimeoutErrorAndNotCalledAgain()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "timeout-finish", retries: 0, call =>
            call.Steps.Count > 0 ? AppReply.Complete("\"late\"") : AppReply.Ops(AppOp.Sleep("nap", "10s")), Timeouts(null, "2s"));

        var runId = await fixture.StartRunAsync(app);
        var run = await fixture.WaitForFinalAsync(runId, "Cancelled");

        var error = run.GetProperty("error");
        Assert.Equal("InngestFunctionTimeoutError", error.GetProperty("name").GetString());
        Assert.Contains("timeouts.finish of 2s", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        var took = run.GetProperty("endedAt").GetDateTimeOffset() - run.GetProperty("startedAt").GetDateTimeOffset();
        output.WriteLine($"timeouts.finish 2s: cancelled {took.TotalMilliseconds:0} ms after the start");
        Assert.True(took >= TimeSpan.FromSeconds(2), $"cancelled after {took.TotalMilliseconds:0} ms");
        Assert.Single(app.Calls);
        var cancelled = await Eventually.WaitAsync(
            () => fixture.Platform.ScalarAsync<string>(
                "SELECT data->'error'->>'name' FROM platform.events WHERE name = 'inngest/function.cancelled' AND data->>'run_id' = @id", ("id", runId)),
            n => n is not null, ExecutorPlatform.RunTimeout, "inngest/function.cancelled");
        Assert.Equal("InngestFunctionTimeoutError", cancelled);
    }

    [Fact]
    public async Task FinishTimeout_RunDoneInTime_Completes()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "timeout-ok", retries: 0, call =>
            call.Steps.Count > 0 ? AppReply.Complete("\"done\"") : AppReply.Ops(AppOp.Sleep("nap", "1s")), Timeouts("1m", "1m"));

        var run = await fixture.WaitForFinalAsync(await fixture.StartRunAsync(app), "Completed");

        JsonAssert.Equal("\"done\"", run.GetProperty("output"));
    }

    [Fact]
    public async Task StartTimeout_RunQueuedPastIt_CancelledBeforeItCallsTheApp()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "timeout-start", retries: 0, _ => AppReply.Complete("1"), Timeouts("1s", null));

        // A run held in the queue (not due for an hour), as behind a backlog: it never starts in time.
        var runId = $"01TIMEOUTSTART{Guid.NewGuid():N}"[..26].ToUpperInvariant();
        await using (var connection = new NpgsqlConnection(fixture.Platform.ConnectionString))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand("""
                INSERT INTO platform.events (id, event_id, name, data, ts, received_at) VALUES (@id, @id, @name, '{}', 0, now());
                INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, dispatched_at, recoveries, wake_seq, state, created_at)
                SELECT @id, f.id, @id, 'Queued', 0, now() + interval '1 hour', now(), 0, 0, '{"items":[]}', now()
                  FROM platform.functions f WHERE f.slug = @slug;
                """, connection);
            insert.Parameters.AddWithValue("id", runId);
            insert.Parameters.AddWithValue("name", app.EventName);
            insert.Parameters.AddWithValue("slug", app.Slug);
            await insert.ExecuteNonQueryAsync();
        }

        var run = await fixture.WaitForFinalAsync(runId, "Cancelled");

        Assert.Equal("InngestFunctionTimeoutError", run.GetProperty("error").GetProperty("name").GetString());
        Assert.Contains("timeouts.start of 1s", run.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, run.GetProperty("startedAt").ValueKind);
        Assert.Empty(app.Calls);
    }
}
