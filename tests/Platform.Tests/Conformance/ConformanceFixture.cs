using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Executor.Security;
using Platform.Tests.EndToEnd;
using Platform.Tests.Infrastructure;
using Platform.Tests.Security;

namespace Platform.Tests.Conformance;

/// <summary>
/// One in-process platform and one Node app on the real <c>inngest</c> SDK 4.24.0 (tests/inngest-app with
/// <c>CONFORMANCE_FUNCTIONS=1</c>), synced through the platform's API, shared by the cases of one mode. Everything
/// the cases check goes through the platform's HTTP API (<see cref="Api"/>, with the API token in signed mode) and
/// the app's own log of step-body executions.
/// </summary>
public abstract class ConformanceFixture : IAsyncLifetime
{
    public const string AppId = InngestNodeApp.AppId;
    public const string Prefix = AppId + "-";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"platform-conformance-{Guid.NewGuid():N}");
    private PlatformApp? _platform;
    private InngestNodeApp? _app;
    private HttpClient? _api;

    public PlatformApp Platform => _platform ?? throw new InvalidOperationException("not started");

    public InngestNodeApp App => _app ?? throw new InvalidOperationException("not started");

    /// <summary>A client for the event and management APIs (with the API token in signed mode).</summary>
    public HttpClient Api => _api ?? throw new InvalidOperationException("not started");

    /// <summary>True when the platform has keys and the SDK runs in cloud mode (every call signed).</summary>
    public abstract bool Signed { get; }

    /// <summary>The key in <c>POST /e/{key}</c>: any in dev mode, the configured event key in signed mode.</summary>
    public string EventKey => Signed ? ProductionModeTests.EventKey : "test-key";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        try
        {
            InngestNodeApp.EnsureInstalled();
            var mode = Signed ? "signed" : "dev";
            _platform = await PlatformApp.StartAsync($"conformance_{mode}", Signed ? ProductionModeTests.Settings(ProductionModeTests.SigningKey) : null);
            _api = new HttpClient { BaseAddress = new Uri(_platform.BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
            if (Signed)
            {
                _api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ProductionModeTests.ApiToken);
            }

            _app = await StartAppAsync(Path.Combine(_directory, "exec.log"), new Dictionary<string, string> { ["CONFORMANCE_FUNCTIONS"] = "1" });
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        // The Node app first: it must not outlive a failed test run.
        _app?.Dispose();
        _app = null;
        _api?.Dispose();
        _api = null;
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

    /// <summary>
    /// Starts a Node app in this fixture's mode (dev, or cloud with the signing and event keys) and syncs it through
    /// <c>POST /api/v1/apps/sync</c>: the platform sends the app a (signed) PUT, the SDK registers with its bearer.
    /// </summary>
    public async Task<InngestNodeApp> StartAppAsync(string execLog, IReadOnlyDictionary<string, string> environment)
    {
        var all = new Dictionary<string, string>(environment);
        if (Signed)
        {
            all["INNGEST_DEV"] = "0";
            all["INNGEST_SIGNING_KEY"] = ProductionModeTests.SigningKey;
            all["INNGEST_EVENT_KEY"] = ProductionModeTests.EventKey;
        }

        var app = await InngestNodeApp.StartAsync(Platform.BaseUrl, execLog, all);
        try
        {
            using var sync = await Api.PostAsJsonAsync("/api/v1/apps/sync", new { url = app.ServeUrl });
            var text = await sync.Content.ReadAsStringAsync();
            if (sync.StatusCode != HttpStatusCode.OK || !text.Contains("Successfully registered", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Syncing the Node app failed: HTTP {(int)sync.StatusCode} {text}. App output:\n{app.Tail()}");
            }

            return app;
        }
        catch
        {
            app.Dispose();
            throw;
        }
    }

    /// <summary>Archives every function of an app: a register with no functions (with the SDK's bearer in signed mode).</summary>
    public async Task ArchiveAppAsync(string appId, string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/fn/register")
        {
            Content = JsonContent.Create(new
            {
                url, deployType = "ping", appName = appId, framework = "node", sdk = "test:v1", v = "0.1", functions = Array.Empty<object>(),
            }),
        };
        if (Signed)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", SigningKeys.BearerToken(ProductionModeTests.SigningKey));
        }

        using var response = await Platform.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"archiving {appId} answered {(int)response.StatusCode}: {text}");
    }

    /// <summary>Sends one event through <c>POST /e/{key}</c>; returns the platform's id for it (the <c>ids</c> entry).</summary>
    public async Task<string> SendAsync(string name, object data, string id)
    {
        using var response = await Api.PostAsJsonAsync($"/e/{EventKey}", new[] { new { name, data, id } });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /e/{{key}} answered {(int)response.StatusCode}: {text}");
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("ids")[0].GetString()!;
    }

    /// <summary>Sends <paramref name="eventName"/> with a fresh id and returns the run it started of <paramref name="function"/>.</summary>
    public async Task<string> StartAsync(string function, string eventName, object data)
    {
        var eventId = await SendAsync(eventName, data, $"{function}-{Guid.NewGuid():N}");
        return await PlatformHttp.RunIdOfEventAsync(Api, Prefix + function, eventId);
    }

    public Task<JsonElement> GetAsync(string path) => PlatformHttp.GetJsonAsync(Api, path);

    public Task<JsonElement> RunAsync(string runId) => GetAsync($"/api/v1/runs/{runId}");

    /// <summary>Polls the run until <paramref name="done"/> holds.</summary>
    public Task<JsonElement> WaitRunAsync(string runId, Func<JsonElement, bool> done, string what) =>
        WithAppOutput(() => PlatformHttp.WaitRunAsync(Api, runId, done, what));

    /// <summary>Waits for the run to end; on a timeout puts the Node app's output into the exception.</summary>
    public Task<JsonElement> FinalAsync(string runId) => WithAppOutput(() => PlatformHttp.WaitFinalAsync(Api, runId));

    /// <summary>Sends the event and waits for the run of <paramref name="function"/> it starts to end.</summary>
    public async Task<JsonElement> RunToEndAsync(string function, string eventName, object data) =>
        await FinalAsync(await StartAsync(function, eventName, data));

    /// <summary>
    /// The first run of <paramref name="functionSlug"/> (full slug) whose trigger event satisfies <paramref name="match"/>,
    /// found through <c>GET /api/v1/runs?function=</c> and each run's detail.
    /// </summary>
    public Task<JsonElement> FindRunAsync(string functionSlug, Func<JsonElement, bool> match, string what) =>
        WithAppOutput(async () =>
        {
            var found = await Eventually.WaitAsync(() => RunsWhereAsync(functionSlug, match), r => r.Count > 0, PlatformHttp.RunTimeout, what);
            return found[0];
        });

    /// <summary>Every run of <paramref name="functionSlug"/> (full slug) whose trigger event satisfies <paramref name="match"/>, now.</summary>
    public async Task<List<JsonElement>> RunsWhereAsync(string functionSlug, Func<JsonElement, bool> match)
    {
        var runs = new List<JsonElement>();
        var page = await GetAsync($"/api/v1/runs?function={Uri.EscapeDataString(functionSlug)}&limit=200");
        foreach (var summary in page.GetProperty("items").EnumerateArray())
        {
            var run = await RunAsync(summary.GetProperty("id").GetString()!);
            if (match(run.GetProperty("event")))
            {
                runs.Add(run);
            }
        }

        return runs;
    }

    /// <summary>The events named <paramref name="name"/> whose data satisfies <paramref name="match"/>.</summary>
    public async Task<List<JsonElement>> EventsAsync(string name, Func<JsonElement, bool> match)
    {
        var page = await GetAsync($"/api/v1/events?name={Uri.EscapeDataString(name)}&limit=200");
        return page.GetProperty("items").EnumerateArray().Where(e => match(e.GetProperty("data"))).Select(e => e.Clone()).ToList();
    }

    /// <summary>The step bodies of <paramref name="function"/> the app executed for a run, in order.</summary>
    public string[] Executed(string function, string runId) => Executions(function, runId).Select(e => e.Step).ToArray();

    public ExecEntry[] Executions(string function, string runId) =>
        App.ReadExecLog().Where(e => e.Fn == function && e.RunId == runId).ToArray();

    public static string? Status(JsonElement run) => run.GetProperty("status").GetString();

    public static string Id(JsonElement run) => run.GetProperty("id").GetString()!;

    private async Task<T> WithAppOutput<T>(Func<Task<T>> wait)
    {
        try
        {
            return await wait();
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\nNode app output:\n{App.Tail()}", ex);
        }
    }
}

/// <summary>The platform in dev mode (no keys) and the SDK in dev mode (<c>INNGEST_DEV=1</c>).</summary>
public sealed class DevModeFixture : ConformanceFixture
{
    public override bool Signed => false;
}

/// <summary>
/// The platform in production mode (signing key, event key, API token) and the SDK in cloud mode: every call is
/// signed and verified by the SDK, the SDK's register bearer and event key are verified by the platform.
/// </summary>
public sealed class SignedModeFixture : ConformanceFixture
{
    public override bool Signed => true;
}
