using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Tests.Infrastructure;
using WireMock;
using WireMock.Logging;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;
using WireMock.Types;
using WireMock.Util;

namespace Platform.Tests.Executor;

/// <summary>
/// WireMock.Net playing an app that serves one function: it registers the function with the platform
/// (<c>POST /fn/register</c>, protocol.md §6.3/6.4) and answers every call request with whatever the test's script
/// returns for it. The script sees the parsed call (step id, attempt, memoized steps, stack), so replies can depend
/// on what the platform sent. What the platform sent is read back from WireMock's request log.
/// </summary>
public sealed class FakeApp : IAsyncDisposable
{
    public const string Path = "/api/inngest";

    private readonly Func<AppCall, AppReply> _script;
    private readonly object _gate = new();
    private readonly List<Exception> _scriptErrors = [];
    private WireMockServer? _server;
    private int _callCount;

    private FakeApp(string appName, int port, Func<AppCall, AppReply> script)
    {
        AppName = appName;
        Port = port;
        _script = script;
    }

    /// <summary>The app id (<c>appName</c>); unique per test, so tests can share one platform.</summary>
    public string AppName { get; }

    /// <summary>Composite function id <c>&lt;appName&gt;-fn</c>.</summary>
    public string Slug => $"{AppName}-fn";

    /// <summary>The only event that triggers the function.</summary>
    public string EventName => $"exec/{AppName}";

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}{Path}";

    public bool IsRunning => _server is { IsStarted: true };

    /// <summary>
    /// Starts the app on a free port of 127.0.0.1 and registers its function with <paramref name="retries"/>
    /// retries (so retries + 1 attempts per step). <paramref name="configure"/> may change the function's config
    /// before it is registered (triggers, <c>cancel</c>, ...).
    /// </summary>
    public static async Task<FakeApp> StartAsync(PlatformApp platform, string name, int retries, Func<AppCall, AppReply> script, Action<FakeApp, JsonObject>? configure = null)
    {
        var app = await RegisterAsync(platform, name, retries, script, configure);
        app.Start();
        return app;
    }

    /// <summary>Registers the function at a free port where nothing listens yet (the app is down); <see cref="Start"/> brings it up.</summary>
    public static async Task<FakeApp> RegisterAsync(PlatformApp platform, string name, int retries, Func<AppCall, AppReply> script, Action<FakeApp, JsonObject>? configure = null)
    {
        var app = new FakeApp($"{name}-{Guid.NewGuid().ToString("N")[..8]}", PlatformApp.FreePort(), script);
        var function = new JsonObject
        {
            ["id"] = app.Slug,
            ["name"] = "fn",
            ["triggers"] = new JsonArray(new JsonObject { ["event"] = app.EventName }),
            ["steps"] = new JsonObject
            {
                ["step"] = new JsonObject
                {
                    ["id"] = "step",
                    ["name"] = "step",
                    ["runtime"] = new JsonObject { ["type"] = "http", ["url"] = $"{app.Url}?fnId={app.Slug}&stepId=step" },
                    ["retries"] = new JsonObject { ["attempts"] = retries },
                },
            },
        };
        configure?.Invoke(app, function);
        var payload = new JsonObject
        {
            ["url"] = app.Url,
            ["deployType"] = "ping",
            ["appName"] = app.AppName,
            ["framework"] = "wiremock",
            ["sdk"] = "test:v1",
            ["v"] = "0.1",
            ["capabilities"] = new JsonObject(),
            ["functions"] = new JsonArray(function),
        };

        using var content = new StringContent(payload.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await platform.Http.PostAsync("/fn/register", content);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Registering {app.AppName} failed: HTTP {(int)response.StatusCode} {body}");
        }

        return app;
    }

    /// <summary>Starts (or restarts) the WireMock server on <see cref="Port"/>.</summary>
    public void Start()
    {
        _server = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{Port}"], StartAdminInterface = false });
        _server
            .Given(Request.Create().WithPath(Path).UsingPost())
            .RespondWith(Response.Create().WithCallback(ReplyAsync));
    }

    /// <summary>
    /// Every call request the app received so far, in arrival order (from WireMock's log; a request shows up
    /// there once its reply was sent or failed).
    /// </summary>
    public IReadOnlyList<AppCall> Calls =>
        _server is null
            ? []
            : _server.LogEntries
                .Where(e => e.RequestMessage.Path == Path)
                .OrderBy(e => e.RequestMessage.DateTime)
                .Select((e, i) => AppCall.From(e.RequestMessage, i))
                .ToList();

    /// <summary>The raw log, for assertions on what WireMock answered.</summary>
    public IReadOnlyList<ILogEntry> LogEntries => _server?.LogEntries.ToList() ?? [];

    /// <summary>Exceptions thrown by the script (a test bug or an unexpected call); tests assert this is empty.</summary>
    public IReadOnlyList<Exception> ScriptErrors
    {
        get
        {
            lock (_gate)
            {
                return [.. _scriptErrors];
            }
        }
    }

    /// <summary>Waits until the app received at least <paramref name="count"/> calls.</summary>
    public Task<IReadOnlyList<AppCall>> WaitForCallsAsync(int count, TimeSpan timeout) =>
        Eventually.WaitAsync(() => Task.FromResult(Calls), c => c.Count >= count, timeout, $"{count} calls to {AppName}");

    private async Task<IResponseMessage> ReplyAsync(IRequestMessage request)
    {
        AppReply reply;
        try
        {
            var index = Interlocked.Increment(ref _callCount) - 1;
            reply = _script(AppCall.From(request, index));
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                _scriptErrors.Add(ex);
            }

            reply = new AppReply { Status = 599, Body = "{\"name\":\"ScriptError\",\"message\":\"the test script threw\"}" };
        }

        if (reply.Delay > TimeSpan.Zero)
        {
            await Task.Delay(reply.Delay);
        }

        var message = new ResponseMessage
        {
            StatusCode = reply.Status,
            Headers = new Dictionary<string, WireMockList<string>>(),
        };
        if (reply.ContentType is not null)
        {
            message.AddHeader("Content-Type", reply.ContentType);
        }

        if (reply.SdkHeader)
        {
            message.AddHeader("X-Inngest-Sdk", "test");
        }

        foreach (var (name, value) in reply.Headers)
        {
            message.AddHeader(name, value);
        }

        if (reply.BodyBytes is not null)
        {
            message.BodyData = new BodyData { BodyAsBytes = reply.BodyBytes, DetectedBodyType = BodyType.Bytes };
        }
        else if (reply.Body is not null)
        {
            message.BodyData = new BodyData { BodyAsString = reply.Body, DetectedBodyType = BodyType.String, Encoding = Encoding.UTF8 };
        }

        if (reply.Fault != FaultType.NONE)
        {
            message.FaultType = reply.Fault;
        }

        return message;
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }

    public void Stop()
    {
        _server?.Stop();
        _server?.Dispose();
    }
}

/// <summary>One call request as the app received it (protocol.md §9).</summary>
public sealed record AppCall(
    int Index,
    DateTime ReceivedAt,
    string? FnId,
    string? StepId,
    string RunId,
    int Attempt,
    int MaxAttempts,
    bool DisableImmediateExecution,
    IReadOnlyList<string> Stack,
    IReadOnlyDictionary<string, JsonElement> Steps,
    JsonElement Event,
    string RawBody)
{
    public bool IsDiscovery => StepId == "step";

    internal static AppCall From(IRequestMessage request, int index)
    {
        var body = request.Body ?? (request.BodyAsBytes is { } bytes ? Encoding.UTF8.GetString(bytes) : "");
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        var ctx = root.GetProperty("ctx");
        var steps = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var p in root.GetProperty("steps").EnumerateObject())
        {
            steps[p.Name] = p.Value.Clone();
        }

        return new AppCall(
            index,
            request.DateTime.Kind == DateTimeKind.Local ? request.DateTime.ToUniversalTime() : DateTime.SpecifyKind(request.DateTime, DateTimeKind.Utc),
            Query(request, "fnId"),
            Query(request, "stepId"),
            ctx.GetProperty("run_id").GetString()!,
            ctx.GetProperty("attempt").GetInt32(),
            ctx.GetProperty("max_attempts").GetInt32(),
            ctx.GetProperty("disable_immediate_execution").GetBoolean(),
            ctx.GetProperty("stack").GetProperty("stack").EnumerateArray().Select(e => e.GetString()!).ToList(),
            steps,
            root.GetProperty("event").Clone(),
            body);
    }

    private static string? Query(IRequestMessage request, string name) =>
        request.Query is { } q && q.TryGetValue(name, out var values) && values.Count > 0 ? values[0] : null;
}
