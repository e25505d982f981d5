using System.Globalization;
using System.Net;
using Npgsql;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.EndToEnd;

/// <summary>
/// The platform as a real process (<c>dotnet Platform.Api.dll --urls http://127.0.0.1:&lt;port&gt;</c>, the build
/// copied next to the test assembly) on its own fresh database, with short executor timings. It can be killed
/// with SIGKILL and started again on the same port and database, which is what the crash tests need and what an
/// in-process host cannot give.
/// </summary>
public sealed class PlatformProcess : IAsyncDisposable
{
    private readonly string _name;
    private ChildProcess? _process;
    private int _starts;

    private PlatformProcess(string name, int port, string connectionString)
    {
        _name = name;
        ConnectionString = connectionString;
        BaseUrl = $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        Http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
    }

    public string BaseUrl { get; }

    public string ConnectionString { get; }

    public HttpClient Http { get; }

    /// <summary>Creates a database and starts the platform on a free port; returns once <c>/health</c> answers 200.</summary>
    public static async Task<PlatformProcess> StartAsync(string name)
    {
        var server = await PostgresServer.GetAsync();
        var connectionString = await server.CreateDatabaseAsync(name);
        var platform = new PlatformProcess(name, PlatformApp.FreePort(), connectionString);
        try
        {
            await platform.RestartAsync();
            return platform;
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills the platform at once (SIGKILL): no shutdown hooks, leases and in-flight requests are abandoned.</summary>
    public void Kill()
    {
        _process?.Kill();
    }

    /// <summary>Starts the platform (again) on the same port and database; returns once it is healthy.</summary>
    public async Task RestartAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("The platform process is still running; kill it first");
        }

        _process?.Dispose();
        _starts++;
        var assemblyFolder = AppContext.BaseDirectory;
        var dll = Path.Combine(assemblyFolder, "Platform.Api.dll");
        if (!File.Exists(dll) || !File.Exists(Path.Combine(assemblyFolder, "Platform.Api.runtimeconfig.json")))
        {
            throw new InvalidOperationException($"Platform.Api.dll (and its runtimeconfig) not found in {assemblyFolder}; build tests/Platform.Tests");
        }

        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Platform"] = ConnectionString,
            ["Executor__SweepInterval"] = "00:00:01",
            ["Executor__SweepGrace"] = "00:00:02",
            ["Executor__RedispatchAfter"] = "00:00:02",
            ["Executor__HttpTimeout"] = "00:00:05",
            ["Executor__WakeInterval"] = "00:00:00.100",
            ["Executor__RetryBaseDelay"] = "00:00:00.100",
            ["Executor__RetryMaxDelay"] = "00:00:02",
            ["Executor__WorkerCount"] = "8",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        _process = ChildProcess.Start(
            $"the platform process '{_name}' (start {_starts.ToString(CultureInfo.InvariantCulture)})",
            "dotnet",
            [dll, "--urls", BaseUrl],
            assemblyFolder,
            environment,
            removePrefixes: ["ASPNETCORE_", "ConnectionStrings__", "Executor__", "Logging__", "DOTNET_STARTUP_HOOKS"]);
        await WaitHealthyAsync(_process);
    }

    /// <summary>The platform's recent output, for failure messages.</summary>
    public string Tail() => _process?.Tail() ?? string.Empty;

    public async Task<T?> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = Command(sql, connection, parameters);
        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default : (T)result;
    }

    /// <summary>Reads rows of a query against the platform's database (directly: the platform may be down).</summary>
    public async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> map, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = Command(sql, connection, parameters);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync())
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        _process?.Dispose();
        _process = null;
        NpgsqlConnection.ClearAllPools();
        await Task.CompletedTask;
    }

    private static NpgsqlCommand Command(string sql, NpgsqlConnection connection, (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var (n, v) in parameters)
        {
            command.Parameters.AddWithValue(n, v);
        }

        return command;
    }

    private async Task WaitHealthyAsync(ChildProcess process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The platform process exited during startup. Its output:\n{process.Tail()}");
            }

            try
            {
                using var response = await Http.GetAsync("/health");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The platform at {BaseUrl} did not become healthy within 90 s. Its output:\n{process.Tail()}");
            }

            await Task.Delay(50);
        }
    }
}
