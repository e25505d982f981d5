extern alias platform;

using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Platform.Executor.Queries;
using PlatformProgram = platform::Program;

namespace Examples.Tests.Infrastructure;

/// <summary>
/// The real platform (Platform.Api's Program with its executor and Hangfire) in this process, on a real Kestrel port
/// on 127.0.0.1, with a fresh database and timings shortened for tests. The example apps call it over HTTP as they
/// would a deployed platform; the tests use its public HTTP API only.
/// </summary>
public sealed class PlatformHost : IAsyncDisposable
{
    private readonly WebApplicationFactory<PlatformProgram> _factory;
    private readonly TestDatabase _database;

    private PlatformHost(WebApplicationFactory<PlatformProgram> factory, TestDatabase database, string baseUrl)
    {
        _factory = factory;
        _database = database;
        BaseUrl = baseUrl;
        Http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary><c>http://127.0.0.1:&lt;port&gt;</c>.</summary>
    public string BaseUrl { get; }

    public HttpClient Http { get; }

    public static async Task<PlatformHost> StartAsync(string name)
    {
        var database = await TestDatabase.CreateAsync(name);
        var port = FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Platform"] = database.ConnectionString,
            // Retries back off from 0.5 s: long enough that an app restarting for a second or two is retried, not failed.
            ["Executor:RetryBaseDelay"] = "00:00:00.500",
            ["Executor:RetryMaxDelay"] = "00:00:02",
            ["Executor:WakeInterval"] = "00:00:00.100",
            ["Executor:SweepInterval"] = "00:00:01",
            ["Executor:SweepGrace"] = "00:00:02",
            ["Executor:RedispatchAfter"] = "00:00:02",
            ["Executor:HttpTimeout"] = "00:00:10",
            ["Executor:WorkerCount"] = "4",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var factory = new WebApplicationFactory<PlatformProgram>().WithWebHostBuilder(b =>
        {
            foreach (var (key, value) in settings)
            {
                b.UseSetting(key, value);
            }

            b.UseSetting("urls", baseUrl);
        });
        factory.UseKestrel(port);
        factory.StartServer();
        var platform = new PlatformHost(factory, database, baseUrl);
        await Eventually.WaitAsync(platform.IsHealthyAsync, healthy => healthy, $"the platform at {baseUrl} to be healthy", TimeSpan.FromSeconds(30));
        return platform;
    }

    /// <summary>Sends events with <c>POST /e/{key}</c>, the event API apps and users call; returns the platform's event ids.</summary>
    public async Task<IReadOnlyList<string>> SendEventAsync(string name, object data, string? id = null)
    {
        using var response = await Http.PostAsJsonAsync("/e/dev", new[] { new { name, data, id } });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /e/dev answered {(int)response.StatusCode}: {text}");
        using var reply = JsonDocument.Parse(text);
        return reply.RootElement.GetProperty("ids").EnumerateArray().Select(i => i.GetString()!).ToList();
    }

    /// <summary>The run an event started for one function (<c>GET /api/v1/events/{id}/runs</c>), once it exists.</summary>
    public async Task<string> RunOfEventAsync(string eventId, string functionSlug)
    {
        var runs = await Eventually.WaitAsync(
            () => Http.GetFromJsonAsync<List<RunSummaryDto>>($"/api/v1/events/{eventId}/runs")!,
            runs => runs!.Any(r => r.FunctionSlug == functionSlug),
            $"a run of {functionSlug} for event {eventId}");
        return runs!.Single(r => r.FunctionSlug == functionSlug).Id;
    }

    /// <summary><c>GET /api/v1/runs/{runId}</c>.</summary>
    public async Task<RunDetailDto> GetRunAsync(string runId) =>
        (await Http.GetFromJsonAsync<RunDetailDto>($"/api/v1/runs/{runId}"))!;

    /// <summary>Polls the run until it has <paramref name="status"/>; fails fast if it ends with another status.</summary>
    public async Task<RunDetailDto> WaitForStatusAsync(string runId, string status)
    {
        var run = await Eventually.WaitAsync(
            () => GetRunAsync(runId),
            r => r.Status == status || r.Status is "Completed" or "Failed" or "Cancelled",
            $"run {runId} to be {status}");
        Assert.True(run.Status == status, $"Run {runId} is {run.Status}, expected {status}; error: {run.Error}");
        return run;
    }

    /// <summary><c>GET /api/v1/apps/{appName}</c>, or null while the app has not synced.</summary>
    public async Task<AppDto?> GetAppAsync(string appName)
    {
        using var response = await Http.GetAsync($"/api/v1/apps/{appName}");
        return response.StatusCode == HttpStatusCode.NotFound ? null : await response.Content.ReadFromJsonAsync<AppDto>();
    }

    /// <summary>Received events with this name (<c>GET /api/v1/events?name=</c>).</summary>
    public async Task<IReadOnlyList<EventDto>> EventsNamedAsync(string name) =>
        (await Http.GetFromJsonAsync<Page<EventDto>>($"/api/v1/events?name={Uri.EscapeDataString(name)}&limit=100"))!.Items;

    /// <summary>The runs of one function, newest first (<c>GET /api/v1/runs?function=</c>).</summary>
    public async Task<IReadOnlyList<RunSummaryDto>> RunsOfFunctionAsync(string functionSlug) =>
        (await Http.GetFromJsonAsync<Page<RunSummaryDto>>($"/api/v1/runs?function={Uri.EscapeDataString(functionSlug)}&limit=100"))!.Items;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _factory.DisposeAsync();
        await _database.DisposeAsync();
    }

    private async Task<bool> IsHealthyAsync()
    {
        try
        {
            using var response = await Http.GetAsync("/health");
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
