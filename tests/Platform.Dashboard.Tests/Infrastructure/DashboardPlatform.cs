using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Platform.Dashboard.Tests.Infrastructure;

/// <summary>
/// The whole platform (Platform.Api's Program: API, executor, Hangfire, dashboard) in this process on a real Kestrel
/// port on 127.0.0.1, with its own fresh database and test timings (short retry backoffs and wake-ups).
/// </summary>
public sealed class DashboardPlatform : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> _factory;

    private DashboardPlatform(WebApplicationFactory<Program> factory, string baseUrl, string connectionString)
    {
        _factory = factory;
        BaseUrl = baseUrl;
        ConnectionString = connectionString;
        Http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary><c>http://127.0.0.1:&lt;port&gt;</c>, no trailing slash.</summary>
    public string BaseUrl { get; }

    public string ConnectionString { get; }

    public HttpClient Http { get; }

    public static async Task<DashboardPlatform> StartAsync()
    {
        var connectionString = await TestDatabase.CreateAsync("dashboard");
        var port = FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Platform"] = connectionString,
            ["Executor:RetryBaseDelay"] = "00:00:00.100",
            ["Executor:RetryMaxDelay"] = "00:00:01",
            ["Executor:WakeInterval"] = "00:00:00.100",
            ["Executor:SweepInterval"] = "00:00:01",
            ["Executor:HttpTimeout"] = "00:00:10",
            ["Executor:WorkerCount"] = "2",
            ["Logging:LogLevel:Default"] = "Warning",
            ["urls"] = baseUrl,
        };

        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (key, value) in settings)
            {
                b.UseSetting(key, value);
            }
        });
        factory.UseKestrel(port);
        factory.StartServer();
        var platform = new DashboardPlatform(factory, baseUrl, connectionString);
        await Eventually.WaitAsync(async () =>
        {
            try
            {
                using var response = await platform.Http.GetAsync("/health");
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "the platform to report healthy");
        return platform;
    }

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
        await TestDatabase.DropAsync(ConnectionString);
    }
}
