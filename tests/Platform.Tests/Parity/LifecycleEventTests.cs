using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Platform.Executor.Scheduling;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Parity;

/// <summary>
/// Lifecycle events (protocol.md §14.6): <c>inngest/function.finished</c> on every end, <c>.failed</c> (id = run id)
/// and <c>.cancelled</c>; a function triggered by <c>inngest/function.failed</c> (an <c>onFailure</c> handler) runs
/// once per failure; nothing re-triggers itself; each event is sent exactly once, also when the signal is lost.
/// </summary>
[Collection(ParityCollection.Name)]
public sealed class LifecycleEventTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);

    private sealed record LifecycleEvent(string Name, string EventId, JsonElement Data);

    /// <summary>The lifecycle events sent about a run, oldest first.</summary>
    private async Task<List<LifecycleEvent>> EventsOfAsync(string runId)
    {
        var rows = new List<LifecycleEvent>();
        await using var connection = new NpgsqlConnection(fixture.Platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT name, event_id, data::text FROM platform.events
             WHERE name IN ('inngest/function.finished', 'inngest/function.failed', 'inngest/function.cancelled')
               AND data->>'run_id' = @id
             ORDER BY id
            """, connection);
        command.Parameters.AddWithValue("id", runId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new LifecycleEvent(reader.GetString(0), reader.GetString(1), JsonSerializer.Deserialize<JsonElement>(reader.GetString(2))));
        }

        return rows;
    }

    /// <summary>Waits until the run's outbox row is published, then returns its events.</summary>
    private async Task<List<LifecycleEvent>> PublishedEventsOfAsync(string runId)
    {
        await Eventually.WaitAsync(
            () => fixture.Platform.ScalarAsync<long>("SELECT count(*) FROM platform.run_outbox WHERE run_id = @id AND published_at IS NOT NULL", ("id", runId)),
            n => n == 1, s_timeout, $"the lifecycle events of {runId} to be sent");
        return await EventsOfAsync(runId);
    }

    private static void FailureHandlerOf(FakeApp failing, JsonObject function) =>
        function["triggers"] = new JsonArray(new JsonObject
        {
            ["event"] = "inngest/function.failed",
            ["expression"] = $"event.data.function_id == '{failing.Slug}'",
        });

    [Fact]
    public async Task Completed_SendsOnlyFinishedWithTheResult()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "lc-done", retries: 0, _ => AppReply.Complete("{\"ok\":1}"));

        var runId = await fixture.StartRunAsync(app, "{\"k\":\"v\"}");
        await fixture.WaitForFinalAsync(runId, "Completed");
        var events = await PublishedEventsOfAsync(runId);

        var finished = Assert.Single(events);
        Assert.Equal("inngest/function.finished", finished.Name);
        Assert.Equal(app.Slug, finished.Data.GetProperty("function_id").GetString());
        JsonAssert.Equal("{\"ok\":1}", finished.Data.GetProperty("result"));
        Assert.False(finished.Data.TryGetProperty("error", out _));
        Assert.Equal(app.EventName, finished.Data.GetProperty("event").GetProperty("name").GetString());
        JsonAssert.Equal("{\"k\":\"v\"}", finished.Data.GetProperty("event").GetProperty("data"));
        Assert.Equal(1, finished.Data.GetProperty("events").GetArrayLength());
    }

    [Fact]
    public async Task Failed_SendsFailedWithTheRunIdAndFinished_TheFailureHandlerRunsOnce()
    {
        await using var failing = await FakeApp.StartAsync(fixture.Platform, "lc-fails", retries: 0, _ =>
            AppReply.Error(400, AppOp.ErrorJson("Error", "it broke"), noRetry: true));
        await using var handler = await FakeApp.StartAsync(fixture.Platform, "lc-handler", retries: 0, call =>
            AppReply.Complete($"{{\"handled\":{call.Event.GetProperty("data").GetProperty("error").GetProperty("message").GetRawText()}}}"),
            (_, f) => FailureHandlerOf(failing, f));

        var runId = await fixture.StartRunAsync(failing);
        await fixture.WaitForFinalAsync(runId, "Failed");
        var events = await PublishedEventsOfAsync(runId);

        Assert.Equal(["inngest/function.failed", "inngest/function.finished"], events.Select(e => e.Name).Order(StringComparer.Ordinal));
        var failed = events.Single(e => e.Name == "inngest/function.failed");
        Assert.Equal(runId, failed.EventId);
        Assert.Equal("it broke", failed.Data.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("it broke", events.Single(e => e.Name == "inngest/function.finished").Data.GetProperty("error").GetProperty("message").GetString());

        var call = Assert.Single(await handler.WaitForCallsAsync(1, s_timeout));
        Assert.Equal("inngest/function.failed", call.Event.GetProperty("name").GetString());
        Assert.Equal(runId, call.Event.GetProperty("id").GetString());
        Assert.Equal(runId, call.Event.GetProperty("data").GetProperty("run_id").GetString());
        var handled = await fixture.WaitForFinalAsync(call.RunId, "Completed");
        JsonAssert.Equal("{\"handled\":\"it broke\"}", handled.GetProperty("output"));
        Assert.Single(handler.Calls);

        // The public event API still refuses the platform's names.
        using var forged = await fixture.Platform.Http.PostAsJsonAsync("/e/test", new { name = "inngest/function.failed", data = new { function_id = failing.Slug } });
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
    }

    [Fact]
    public async Task FailureHandlerFails_SendsNoLifecycleEventOfItsOwnAndRunsOnce()
    {
        await using var failing = await FakeApp.StartAsync(fixture.Platform, "lc-fails2", retries: 0, _ =>
            AppReply.Error(400, AppOp.ErrorJson("Error", "first failure"), noRetry: true));
        // A handler that fails, and is itself a function.failed listener of any function: if its own failure
        // sent inngest/function.failed, it would start itself again.
        await using var handler = await FakeApp.StartAsync(fixture.Platform, "lc-handler2", retries: 0, _ =>
            AppReply.Error(400, AppOp.ErrorJson("Error", "the handler failed too"), noRetry: true),
            (self, f) => f["triggers"] = new JsonArray(new JsonObject
            {
                ["event"] = "inngest/function.failed",
                ["expression"] = $"event.data.function_id == '{failing.Slug}' || event.data.function_id == '{self.Slug}'",
            }));

        var runId = await fixture.StartRunAsync(failing);
        await fixture.WaitForFinalAsync(runId, "Failed");
        var call = Assert.Single(await handler.WaitForCallsAsync(1, s_timeout));
        await fixture.WaitForFinalAsync(call.RunId, "Failed");

        Assert.Empty(await PublishedEventsOfAsync(call.RunId));
        await fixture.Platform.GetRequiredService<LifecyclePublisher>().PublishPendingAsync(CancellationToken.None);
        Assert.Single(handler.Calls);
        Assert.Equal(1L, await fixture.Platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.runs r JOIN platform.functions f ON f.id = r.function_id WHERE f.slug = @slug", ("slug", handler.Slug)));
    }

    [Fact]
    public async Task Cancelled_SendsCancelledAndFinished()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "lc-cancel", retries: 0, _ => AppReply.Ops(AppOp.Sleep("nap", "1m")));

        var runId = await fixture.StartRunAsync(app);
        await fixture.WaitForStatusAsync(runId, "Sleeping");
        using var cancel = await fixture.Platform.Http.PostAsync($"/api/v1/runs/{runId}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var events = await PublishedEventsOfAsync(runId);

        Assert.Equal(["inngest/function.cancelled", "inngest/function.finished"], events.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.All(events, e => Assert.Equal("FunctionCancelledError", e.Data.GetProperty("error").GetProperty("name").GetString()));
    }

    [Fact]
    public async Task EndedByAProcessThatDiedBeforeSignalling_ThePollSendsTheEvents()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "lc-orphan", retries: 0, _ => AppReply.Ops(AppOp.Sleep("nap", "1m")));
        var runId = await fixture.StartRunAsync(app);
        await fixture.WaitForStatusAsync(runId, "Sleeping");

        // What a process commits when it fails a run; it dies before it can signal its publisher.
        await EndBehindTheEnginesBackAsync([runId]);
        var events = await PublishedEventsOfAsync(runId);

        Assert.Equal(["inngest/function.failed", "inngest/function.finished"], events.Select(e => e.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task PublisherPassesRacing_EveryEventIsSentExactlyOnce()
    {
        const int Runs = 20;
        await using var app = await FakeApp.StartAsync(fixture.Platform, "lc-race", retries: 0, _ => AppReply.Ops(AppOp.Sleep("nap", "1m")));
        var runIds = new List<string>();
        for (var i = 0; i < Runs; i++)
        {
            runIds.Add(await fixture.StartRunAsync(app));
        }

        foreach (var id in runIds)
        {
            await fixture.WaitForStatusAsync(id, "Sleeping");
        }

        await EndBehindTheEnginesBackAsync([.. runIds]);
        var publisher = fixture.Platform.GetRequiredService<LifecyclePublisher>();
        var passes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => publisher.PublishPendingAsync(CancellationToken.None))));

        var perRun = new List<int>();
        foreach (var id in runIds)
        {
            var events = await PublishedEventsOfAsync(id);
            Assert.Equal(["inngest/function.failed", "inngest/function.finished"], events.Select(e => e.Name).Order(StringComparer.Ordinal));
            perRun.Add(events.Count);
        }

        output.WriteLine($"{Runs} runs ended at once, 8 racing publisher passes took {string.Join("+", passes)} rows; events per run: {string.Join(",", perRun.Distinct())}");
        Assert.True(passes.Sum() <= Runs, $"the passes took {passes.Sum()} rows for {Runs} runs");
    }

    /// <summary>Fails runs and writes their outbox rows in one transaction, as the engine does, without any signal.</summary>
    private async Task EndBehindTheEnginesBackAsync(string[] runIds)
    {
        await using var connection = new NpgsqlConnection(fixture.Platform.ConnectionString);
        await connection.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await using (var fail = new NpgsqlCommand("""
            UPDATE platform.runs SET status = 'Failed', version = version + 1, next_wake_at = NULL, ended_at = now(),
                   error = '{"name":"Error","message":"ended elsewhere"}', state = jsonb_set(state, '{items}', '[]'::jsonb)
             WHERE id = ANY(@ids)
            """, connection, tx))
        {
            fail.Parameters.AddWithValue("ids", runIds);
            Assert.Equal(runIds.Length, await fail.ExecuteNonQueryAsync());
        }

        await using (var outbox = new NpgsqlCommand("INSERT INTO platform.run_outbox (run_id, created_at) SELECT unnest(@ids), now()", connection, tx))
        {
            outbox.Parameters.AddWithValue("ids", runIds);
            await outbox.ExecuteNonQueryAsync();
        }

        await tx.CommitAsync();
    }
}
