using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Platform.Tests.Infrastructure;

/// <summary>
/// The real platform (Platform.Api's Program, executor and Hangfire included) in this process, on a real
/// Kestrel port on 127.0.0.1, with its own fresh PostgreSQL database and timings shortened for tests.
/// Apps under test (WireMock, the Node SDK app) call it over HTTP like they would a deployed platform.
/// </summary>
public sealed class PlatformApp : IAsyncDisposable
{
    private readonly WebApplicationFactory<Program> _factory;

    private PlatformApp(WebApplicationFactory<Program> factory, string baseUrl, string connectionString)
    {
        _factory = factory;
        BaseUrl = baseUrl;
        ConnectionString = connectionString;
        Http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary><c>http://127.0.0.1:&lt;port&gt;</c>, no trailing slash.</summary>
    public string BaseUrl { get; }

    public string ConnectionString { get; }

    /// <summary>A client for the platform's HTTP API.</summary>
    public HttpClient Http { get; }

    public IServiceProvider Services => _factory.Services;

    /// <summary>
    /// Starts a platform on a fresh database. <paramref name="settings"/> override configuration keys;
    /// <paramref name="configure"/> may change the host further (a logger provider that captures logs, say).
    /// </summary>
    public static async Task<PlatformApp> StartAsync(string name, IReadOnlyDictionary<string, string?>? settings = null, Action<IWebHostBuilder>? configure = null)
    {
        var server = await PostgresServer.GetAsync();
        var connectionString = await server.CreateDatabaseAsync(name);
        var port = FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var defaults = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Platform"] = connectionString,
            ["Executor:RetryBaseDelay"] = "00:00:00.100",
            ["Executor:RetryMaxDelay"] = "00:00:02",
            ["Executor:WakeInterval"] = "00:00:00.100",
            ["Executor:SweepInterval"] = "00:00:01",
            ["Executor:SweepGrace"] = "00:00:02",
            ["Executor:RedispatchAfter"] = "00:00:02",
            ["Executor:HttpTimeout"] = "00:00:10",
            ["Executor:WorkerCount"] = "8",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            defaults[key] = value;
        }

        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            foreach (var (key, value) in defaults)
            {
                b.UseSetting(key, value);
            }

            b.UseSetting("urls", baseUrl);
            configure?.Invoke(b);
        });
        factory.UseKestrel(port);
        factory.StartServer();
        var app = new PlatformApp(factory, baseUrl, connectionString);
        await app.WaitHealthyAsync();
        return app;
    }

    public T GetRequiredService<T>() where T : notnull => Services.GetRequiredService<T>();

    private async Task WaitHealthyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                using var response = await Http.GetAsync("/health");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The platform at {BaseUrl} did not become healthy within 30 s");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Runs a SQL scalar against the platform's database (for assertions on stored rows).</summary>
    public async Task<T?> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (n, v) in parameters)
        {
            command.Parameters.AddWithValue(n, v);
        }

        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)Convert.ChangeType(result, Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T), System.Globalization.CultureInfo.InvariantCulture);
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
    }
}
