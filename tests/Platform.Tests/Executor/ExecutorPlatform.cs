using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Executor;

/// <summary>
/// One in-process platform shared by the executor tests (starting one per test would cost most of the time
/// budget). Every test registers its own <see cref="FakeApp"/> with a unique app id and trigger, so runs of
/// different tests never meet. Settings: short retry delays (PlatformApp's defaults), an HTTP timeout of 2 s for
/// the slow-reply case and a 64 KB reply limit for the output-too-large case.
/// </summary>
public sealed class ExecutorPlatform : IAsyncLifetime
{
    public const int MaxReplyBytes = 64 * 1024;
    public static readonly TimeSpan HttpTimeout = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(20);

    private PlatformApp? _platform;

    public PlatformApp Platform => _platform ?? throw new InvalidOperationException("the platform is not started");

    public async Task InitializeAsync()
    {
        _platform = await PlatformApp.StartAsync("executor", new Dictionary<string, string?>
        {
            ["Executor:HttpTimeout"] = "00:00:02",
            ["Executor:MaxReplyBytes"] = MaxReplyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

        // One run end to end before the tests: the first call of a cold process (JIT of WireMock, the HTTP client
        // and the executor) took over 2 s here, so it would turn into a spurious TimeoutError in the first test.
        await using var app = await FakeApp.StartAsync(Platform, "warmup", retries: 5, call =>
            call.Steps.Count == 0 ? AppReply.Ops(AppOp.StepRun("a", "1")) : AppReply.Complete("true"));
        await WaitForFinalAsync(await StartRunAsync(app), "Completed");
    }

    public async Task DisposeAsync()
    {
        if (_platform is not null)
        {
            await _platform.DisposeAsync();
        }
    }

    /// <summary>Sends an event through <c>POST /e/test</c>; returns the platform's event id.</summary>
    public async Task<string> SendEventAsync(string name, string dataJson)
    {
        var body = new JsonObject { ["name"] = name, ["data"] = JsonNode.Parse(dataJson) }.ToJsonString();
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await Platform.Http.PostAsync("/e/test", content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /e/test answered {(int)response.StatusCode}: {text}");
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("ids")[0].GetString()!;
    }

    /// <summary>Sends the app's trigger event and returns the id of the run it started.</summary>
    public async Task<string> StartRunAsync(FakeApp app, string dataJson = "{}")
    {
        var eventId = await SendEventAsync(app.EventName, dataJson);
        var runs = await Eventually.WaitAsync(
            async () => await Platform.Http.GetFromJsonAsync<JsonElement>($"/api/v1/events/{eventId}/runs"),
            r => r.GetArrayLength() > 0,
            TimeSpan.FromSeconds(10),
            $"a run of event {eventId}");
        Assert.Equal(1, runs.GetArrayLength());
        return runs[0].GetProperty("id").GetString()!;
    }

    /// <summary><c>GET /api/v1/runs/{id}</c>.</summary>
    public async Task<JsonElement> GetRunAsync(string runId) =>
        await Platform.Http.GetFromJsonAsync<JsonElement>($"/api/v1/runs/{runId}");

    /// <summary>Polls the run until its status is <paramref name="status"/>.</summary>
    public Task<JsonElement> WaitForStatusAsync(string runId, string status, TimeSpan? timeout = null) =>
        Eventually.WaitAsync(() => GetRunAsync(runId), r => Status(r) == status, timeout ?? RunTimeout, $"run {runId} to be {status}");

    /// <summary>Polls the run until it reaches a final state, then asserts it is <paramref name="status"/>.</summary>
    public async Task<JsonElement> WaitForFinalAsync(string runId, string status)
    {
        var run = await Eventually.WaitAsync(
            () => GetRunAsync(runId),
            r => Status(r) is "Completed" or "Failed" or "Cancelled",
            RunTimeout,
            $"run {runId} to finish");
        Assert.True(Status(run) == status, $"run {runId} ended {Status(run)}, expected {status}: {run}");
        return run;
    }

    public static string Status(JsonElement run) => run.GetProperty("status").GetString()!;

    /// <summary>The stored steps of a run in stack order (SQL on <c>platform.steps</c>).</summary>
    public async Task<IReadOnlyList<StoredStep>> StepsAsync(string runId)
    {
        var rows = new List<StoredStep>();
        await using var connection = new NpgsqlConnection(Platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT step_id, name, op, output::text, attempts FROM platform.steps WHERE run_id = @id ORDER BY seq", connection);
        command.Parameters.AddWithValue("id", runId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new StoredStep(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4)));
        }

        return rows;
    }

    /// <summary>The failed attempts of a run in the order they were recorded (SQL on <c>platform.attempts</c>).</summary>
    public async Task<IReadOnlyList<StoredAttempt>> AttemptsAsync(string runId)
    {
        var rows = new List<StoredAttempt>();
        await using var connection = new NpgsqlConnection(Platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT step_id, attempt, error::text, retry_at FROM platform.attempts WHERE run_id = @id ORDER BY id", connection);
        command.Parameters.AddWithValue("id", runId);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new StoredAttempt(reader.GetString(0), reader.GetInt32(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3)));
        }

        return rows;
    }

    /// <summary>Pending waits of a run (SQL on <c>platform.waits</c>).</summary>
    public async Task<long> WaitCountAsync(string runId) =>
        await Platform.ScalarAsync<long>("SELECT count(*) FROM platform.waits WHERE run_id = @id", ("id", runId));
}

/// <summary>A row of <c>platform.steps</c>.</summary>
public sealed record StoredStep(string StepId, string Name, string Op, string OutputJson, int Attempts)
{
    public JsonElement Output => JsonSerializer.Deserialize<JsonElement>(OutputJson);

    /// <summary>The error name of a stored failure <c>{"error":{"name":…}}</c>.</summary>
    public string? ErrorName =>
        Output is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("error", out var e) && e.TryGetProperty("name", out var n) ? n.GetString() : null;
}

/// <summary>A row of <c>platform.attempts</c>.</summary>
public sealed record StoredAttempt(string StepId, int Attempt, string ErrorJson, DateTimeOffset? RetryAt)
{
    public JsonElement Error => JsonSerializer.Deserialize<JsonElement>(ErrorJson);

    public string ErrorName => Error.GetProperty("name").GetString()!;

    public string ErrorMessage => Error.GetProperty("message").GetString()!;
}

[CollectionDefinition(Name)]
public sealed class ExecutorCollection : ICollectionFixture<ExecutorPlatform>
{
    public const string Name = "Executor with WireMock apps";
}
