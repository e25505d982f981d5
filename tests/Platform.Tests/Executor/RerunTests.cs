using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Platform.Executor.Runs;
using Platform.Executor.Storage;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Executor;

/// <summary>
/// <c>POST /api/v1/runs/{runId}/rerun</c>: a new run of the same function for the same event, from the first step or
/// from a chosen step (the steps stored before it are copied, so the app replays them instead of executing them).
/// </summary>
[Collection(ExecutorCollection.Name)]
public sealed class RerunTests(ExecutorPlatform fixture, ITestOutputHelper output)
{
    private static readonly string[] s_four = ["a", "b", "c", "d"];

    [Fact]
    public async Task Rerun_CompletedRun_NewRunOfTheSameEventExecutesEveryStepAgain()
    {
        var executions = new Executions();
        await using var app = await FourStepAppAsync("rerun-all", executions);
        var original = await fixture.StartRunAsync(app, "{\"order\":7}");
        var originalRun = await fixture.WaitForFinalAsync(original, "Completed");

        var (status, body) = await PostRerunAsync(original, null);
        Assert.Equal(HttpStatusCode.Created, status);
        var rerun = body.GetProperty("id").GetString()!;
        Assert.NotEqual(original, rerun);
        Assert.Equal(original, body.GetProperty("rerunOf").GetString());
        var run = await fixture.WaitForFinalAsync(rerun, "Completed");

        // Every step ran a second time, and the rerun's first call knew nothing of the original's steps.
        Assert.Equal([2, 2, 2, 2], s_four.Select(executions.Of));
        var calls = app.Calls.Where(c => c.RunId == rerun).ToList();
        Assert.Empty(calls[0].Steps);
        Assert.Equal(2, run.GetProperty("output").GetProperty("a").GetProperty("n").GetInt32());
        Assert.Equal(2, run.GetProperty("output").GetProperty("d").GetProperty("n").GetInt32());
        Assert.Equal(1, originalRun.GetProperty("output").GetProperty("d").GetProperty("n").GetInt32());

        // Same function, same event; the rerun knows its original, the original lists its rerun.
        Assert.Equal(originalRun.GetProperty("event").GetProperty("id").GetString(), run.GetProperty("event").GetProperty("id").GetString());
        Assert.Equal(7, calls[0].Event.GetProperty("data").GetProperty("order").GetInt32());
        Assert.Equal(original, run.GetProperty("rerunOf").GetString());
        Assert.Equal(JsonValueKind.Null, run.GetProperty("rerunFromStep").ValueKind);
        Assert.All(run.GetProperty("steps").EnumerateArray(), s => Assert.Equal(JsonValueKind.Null, s.GetProperty("copiedFrom").ValueKind));
        Assert.Equal([rerun], (await fixture.GetRunAsync(original)).GetProperty("reruns").EnumerateArray().Select(r => r.GetString()));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task Rerun_FromThirdOfFourSteps_CallsTheAppOnlyForStepsThreeAndFourWithTheCopiedOutputs()
    {
        var executions = new Executions();
        await using var app = await FourStepAppAsync("rerun-from", executions);
        var original = await fixture.StartRunAsync(app);
        var originalRun = await fixture.WaitForFinalAsync(original, "Completed");
        var originalSteps = await fixture.StepsAsync(original);
        Assert.Equal(s_four.Select(AppOp.Id), originalSteps.Select(s => s.StepId));
        Assert.Equal("StepFailed", originalSteps[1].Op); // b failed for good and the function went on: its error is a memo too

        var (status, body) = await PostRerunAsync(original, AppOp.Id("c"));
        Assert.Equal(HttpStatusCode.Created, status);
        var rerun = body.GetProperty("id").GetString()!;
        var run = await fixture.WaitForFinalAsync(rerun, "Completed");

        // a and b were not executed again; c and d were.
        Assert.Equal([1, 1, 2, 2], s_four.Select(executions.Of));
        var calls = app.Calls.Where(c => c.RunId == rerun).ToList();
        Assert.Equal(3, calls.Count); // c, d, then the function returns
        Assert.All(calls, call =>
        {
            Assert.Equal([AppOp.Id("a"), AppOp.Id("b")], call.Stack.Take(2));
            JsonAssert.Equal(originalSteps[0].OutputJson, call.Steps[AppOp.Id("a")]);
            JsonAssert.Equal(originalSteps[1].OutputJson, call.Steps[AppOp.Id("b")]);
        });

        // The output is built from the copies (execution 1 of a, b's stored error) and the new c and d (execution 2).
        var result = run.GetProperty("output");
        JsonAssert.Equal(originalRun.GetProperty("output").GetProperty("a").GetRawText(), result.GetProperty("a"));
        JsonAssert.Equal(originalRun.GetProperty("output").GetProperty("b").GetRawText(), result.GetProperty("b"));
        Assert.Equal(2, result.GetProperty("c").GetProperty("n").GetInt32());
        Assert.Equal(2, result.GetProperty("d").GetProperty("n").GetInt32());

        // The copied rows are the originals to the byte, in the same order, marked with the run that executed them.
        var steps = await fixture.StepsAsync(rerun);
        Assert.Equal(s_four.Select(AppOp.Id), steps.Select(s => s.StepId));
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(originalSteps[i], steps[i]);
        }

        Assert.Equal([original, original, null, null], await CopiedFromAsync(rerun));
        Assert.Equal(original, run.GetProperty("rerunOf").GetString());
        Assert.Equal(AppOp.Id("c"), run.GetProperty("rerunFromStep").GetProperty("stepId").GetString());
        Assert.Equal("c", run.GetProperty("rerunFromStep").GetProperty("name").GetString());
        Assert.Equal(original, run.GetProperty("steps")[1].GetProperty("copiedFrom").GetString());
        Assert.Equal("Failed", run.GetProperty("steps")[1].GetProperty("status").GetString());

        // A rerun of the rerun from d copies a, b (executed by the original) and c (executed by the first rerun).
        var (_, again) = await PostRerunAsync(rerun, AppOp.Id("d"));
        var second = again.GetProperty("id").GetString()!;
        await fixture.WaitForFinalAsync(second, "Completed");
        Assert.Equal([1, 1, 2, 3], s_four.Select(executions.Of));
        Assert.Equal([original, original, rerun, null], await CopiedFromAsync(second));
        Assert.Empty(app.ScriptErrors);
        output.WriteLine($"rerun from c: {calls.Count} calls; rerun of the rerun from d: {app.Calls.Count(c => c.RunId == second)} calls");
    }

    [Fact]
    public async Task Rerun_FromSecondOfParallelSteps_CopiesOnlyTheStepsStoredBeforeIt()
    {
        string[] names = ["p1", "p2", "p3"];
        var byId = names.ToDictionary(AppOp.Id);
        var executions = new Executions();
        await using var app = await FakeApp.StartAsync(fixture.Platform, "rerun-parallel", retries: 0, call =>
        {
            if (!call.IsDiscovery)
            {
                var name = byId[call.StepId!];
                return AppReply.Ops(AppOp.StepRun(name, $"{{\"n\":{executions.Run(name)}}}"));
            }

            var missing = names.Where(n => !call.Steps.ContainsKey(AppOp.Id(n))).ToList();
            return missing.Count > 0
                ? AppReply.Ops([.. missing.Select(AppOp.StepPlanned)])
                : AppReply.Complete(JsonSerializer.Serialize(names.ToDictionary(n => n, n => call.Steps[AppOp.Id(n)].GetProperty("data").GetProperty("n").GetInt32())));
        });
        var original = await fixture.StartRunAsync(app);
        await fixture.WaitForFinalAsync(original, "Completed");
        var order = (await fixture.StepsAsync(original)).Select(s => byId[s.StepId]).ToList(); // replay (seq) order

        var (status, body) = await PostRerunAsync(original, AppOp.Id(order[1]));
        Assert.Equal(HttpStatusCode.Created, status);
        var rerun = body.GetProperty("id").GetString()!;
        var run = await fixture.WaitForFinalAsync(rerun, "Completed");

        Assert.Equal(1, executions.Of(order[0]));
        Assert.Equal(2, executions.Of(order[1]));
        Assert.Equal(2, executions.Of(order[2]));
        Assert.Equal(1, run.GetProperty("output").GetProperty(order[0]).GetInt32());
        Assert.Equal(2, run.GetProperty("output").GetProperty(order[1]).GetInt32());
        var copied = (await fixture.StepsAsync(rerun)).Zip(await CopiedFromAsync(rerun)).Where(p => p.Second is not null).Select(p => byId[p.First.StepId]);
        Assert.Equal([order[0]], copied);
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task Rerun_RunStillSleeping_IsAllowedAndTheNewRunGoesItsOwnWay()
    {
        var executions = new Executions();
        await using var app = await FakeApp.StartAsync(fixture.Platform, "rerun-sleeping", retries: 0, call => call.Steps.Count switch
        {
            0 => AppReply.Ops(AppOp.StepRun("a", $"{executions.Run("a")}")),
            1 => AppReply.Ops(AppOp.Sleep("nap", "1h")),
            _ => AppReply.Complete("\"woke\""),
        });
        var original = await fixture.StartRunAsync(app);
        await fixture.WaitForStatusAsync(original, "Sleeping");

        var (status, body) = await PostRerunAsync(original, AppOp.Id("a"));
        Assert.Equal(HttpStatusCode.Created, status);
        var rerun = body.GetProperty("id").GetString()!;
        await fixture.WaitForStatusAsync(rerun, "Sleeping");

        Assert.Equal(2, executions.Of("a"));
        Assert.Equal("Sleeping", ExecutorPlatform.Status(await fixture.GetRunAsync(original)));
        using (var cancel = await fixture.Platform.Http.PostAsync($"/api/v1/runs/{original}/cancel", null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        // Cancelling the original leaves the rerun alone.
        Assert.Equal("Sleeping", ExecutorPlatform.Status(await fixture.GetRunAsync(rerun)));
        using (var cancel = await fixture.Platform.Http.PostAsync($"/api/v1/runs/{rerun}/cancel", null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }
    }

    [Fact]
    public async Task Ingest_AfterReruns_StillOneRunPerFunctionAndEvent()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "rerun-dedupe", retries: 0, _ => AppReply.Complete("1"));
        var senderId = "order-" + Guid.NewGuid().ToString("N");
        var eventId = await SendWithIdAsync(app.EventName, senderId);
        var original = await Eventually.WaitAsync(() => RunsOfEventAsync(eventId), r => r.Count == 1, TimeSpan.FromSeconds(10), "the event's run");
        await fixture.WaitForFinalAsync(original[0], "Completed");
        for (var i = 0; i < 2; i++)
        {
            var (status, body) = await PostRerunAsync(original[0], null);
            Assert.Equal(HttpStatusCode.Created, status);
            await fixture.WaitForFinalAsync(body.GetProperty("id").GetString()!, "Completed");
        }

        // The same event again is a duplicate: the same id back, no run.
        Assert.Equal(eventId, await SendWithIdAsync(app.EventName, senderId));
        var runs = await RunsOfEventAsync(eventId);
        Assert.Equal(3, runs.Count);
        Assert.Equal(1L, await fixture.Platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.runs WHERE event_id = @e AND rerun_of_run_id IS NULL", ("e", eventId)));

        // The (function, event) index still refuses a second run that is not a rerun, reruns or not.
        var duplicate = await Assert.ThrowsAsync<PostgresException>(() => fixture.Platform.ScalarAsync<int>("""
            INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, dispatched_at, recoveries, wake_seq, state, created_at)
            SELECT 'dup-' || id, function_id, event_id, 'Queued', 0, NULL, NULL, 0, 0, state, now() FROM platform.runs WHERE id = @id
            RETURNING 1
            """, ("id", original[0])));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, duplicate.SqlState);

        // And a new event after all this starts its one run as usual (ingest's ON CONFLICT still infers the partial index).
        var next = await SendWithIdAsync(app.EventName, senderId + "-next");
        var nextRuns = await Eventually.WaitAsync(() => RunsOfEventAsync(next), r => r.Count == 1, TimeSpan.FromSeconds(10), "the next event's run");
        await fixture.WaitForFinalAsync(nextRuns[0], "Completed");
    }

    [Fact]
    public async Task Rerun_WithoutTheDispatchAfterCommit_TheSweeperStartsTheNewRun()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "rerun-sweep", retries: 0, call =>
            call.Steps.Count == 0 ? AppReply.Ops(AppOp.StepRun("a", "1")) : AppReply.Complete("\"done\""));
        var original = await fixture.StartRunAsync(app);
        await fixture.WaitForFinalAsync(original, "Completed");

        // A RunCommands with no dispatch queue is a process that died right after the rerun's commit.
        var commands = new RunCommands(fixture.Platform.GetRequiredService<PlatformDatabase>());
        var result = await commands.RerunAsync(original, null, CancellationToken.None);

        Assert.Equal(RerunOutcome.Created, result.Outcome);
        await fixture.WaitForFinalAsync(result.RunId!, "Completed");
        Assert.Equal(2, app.Calls.Count(c => c.RunId == result.RunId));
    }

    [Fact]
    public async Task Rerun_BadRequests_AnswerProblemDetails()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "rerun-errors", retries: 0, call =>
            call.Steps.Count == 0 ? AppReply.Ops(AppOp.StepRun("a", "1")) : AppReply.Complete("2"));
        var original = await fixture.StartRunAsync(app);
        await fixture.WaitForFinalAsync(original, "Completed");

        await AssertProblemAsync(await PostRerunAsync("01NOSUCHRUN0000000000000000", null), 404, "No run '01NOSUCHRUN0000000000000000'");
        await AssertProblemAsync(await PostRerunAsync(original, AppOp.Id("nope")), 400, $"has no stored step '{AppOp.Id("nope")}'");
        await AssertProblemAsync(await PostRerunAsync(original, " "), 400, "fromStepId");
        await AssertProblemAsync(await PostRerunAsync(original, "a\0b"), 400, "NUL");
        Assert.Equal(0L, await fixture.Platform.ScalarAsync<long>("SELECT count(*) FROM platform.runs WHERE rerun_of_run_id = @id", ("id", original)));

        // The app no longer serves the function: its runs stay readable but cannot be rerun.
        var sync = new JsonObject
        {
            ["url"] = app.Url, ["deployType"] = "ping", ["appName"] = app.AppName, ["framework"] = "wiremock", ["sdk"] = "test:v1", ["v"] = "0.1",
            ["functions"] = new JsonArray(),
        };
        using (var content = new StringContent(sync.ToJsonString(), Encoding.UTF8, "application/json"))
        using (var response = await fixture.Platform.Http.PostAsync("/fn/register", content))
        {
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        await AssertProblemAsync(await PostRerunAsync(original, null), 409, $"Function '{app.Slug}' is archived");
        Assert.Equal(0L, await fixture.Platform.ScalarAsync<long>("SELECT count(*) FROM platform.runs WHERE rerun_of_run_id = @id", ("id", original)));
    }

    /// <summary>A function of four steps a, b, c, d where b fails for good (the function catches it) and the result gathers all four.</summary>
    private Task<FakeApp> FourStepAppAsync(string name, Executions executions) =>
        FakeApp.StartAsync(fixture.Platform, name, retries: 0, call =>
        {
            string Done(string id) => call.Steps[AppOp.Id(id)].GetRawText();
            return call.Steps.Count switch
            {
                0 => AppReply.Ops(AppOp.StepRun("a", $"{{\"n\":{executions.Run("a")},\"by\":\"exec\"}}")),
                1 => AppReply.Ops(AppOp.StepFailed("b", AppOp.ErrorJson("CardDeclined", $"declined #{executions.Run("b")}"))),
                2 => AppReply.Ops(AppOp.StepRun("c", $"{{\"n\":{executions.Run("c")}}}")),
                3 => AppReply.Ops(AppOp.StepRun("d", $"{{\"n\":{executions.Run("d")}}}")),
                _ => AppReply.Complete($$"""
                    {"a":{{Data(Done("a"))}},"b":{{Done("b")}},"c":{{Data(Done("c"))}},"d":{{Data(Done("d"))}}}
                    """),
            };
        });

    private static string Data(string memo) => JsonDocument.Parse(memo).RootElement.GetProperty("data").GetRawText();

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostRerunAsync(string runId, string? fromStepId)
    {
        using var content = fromStepId is null ? null : JsonContent.Create(new { fromStepId });
        using var response = await fixture.Platform.Http.PostAsync($"/api/v1/runs/{Uri.EscapeDataString(runId)}/rerun", content);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode == HttpStatusCode.Created)
        {
            Assert.Equal($"/api/v1/runs/{JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()}", response.Headers.Location?.OriginalString);
        }

        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static Task AssertProblemAsync((HttpStatusCode Status, JsonElement Body) reply, int status, string detail)
    {
        Assert.Equal(status, (int)reply.Status);
        Assert.Equal(status, reply.Body.GetProperty("status").GetInt32());
        Assert.Contains(detail, reply.Body.GetProperty("detail").GetString());
        return Task.CompletedTask;
    }

    private async Task<string> SendWithIdAsync(string name, string senderId)
    {
        using var response = await fixture.Platform.Http.PostAsJsonAsync("/e/test", new { name, id = senderId, data = new { } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ids")[0].GetString()!;
    }

    private async Task<IReadOnlyList<string>> RunsOfEventAsync(string eventId) =>
        (await fixture.Platform.Http.GetFromJsonAsync<JsonElement>($"/api/v1/events/{eventId}/runs"))
            .EnumerateArray().Select(r => r.GetProperty("id").GetString()!).ToList();

    private async Task<IReadOnlyList<string?>> CopiedFromAsync(string runId)
    {
        var rows = new List<string?>();
        await using var connection = new NpgsqlConnection(fixture.Platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT copied_from_run_id FROM platform.steps WHERE run_id = @id ORDER BY seq", connection);
        command.Parameters.AddWithValue("id", runId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.IsDBNull(0) ? null : reader.GetString(0));
        }

        return rows;
    }

    /// <summary>How many times the app executed each step (the user code inside <c>step.run</c>).</summary>
    private sealed class Executions
    {
        private readonly Dictionary<string, int> _counts = [];

        public int Run(string step)
        {
            lock (_counts)
            {
                return _counts[step] = _counts.GetValueOrDefault(step) + 1;
            }
        }

        public int Of(string step)
        {
            lock (_counts)
            {
                return _counts.GetValueOrDefault(step);
            }
        }
    }
}
