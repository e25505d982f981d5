using System.Diagnostics;
using System.Globalization;

namespace Platform.Benchmarks;

/// <summary>
/// The platform as a child process, from Platform.Api's build output (built with the benchmark through a project
/// reference), on a free port of 127.0.0.1 with its own database. Its console output goes to a log file.
/// Disposing asks it to stop (SIGTERM), then kills it if it has not stopped within 15 s.
/// </summary>
public sealed class PlatformProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private int _stopped;

    private PlatformProcess(Process process, StreamWriter log, string baseUrl, string logPath)
    {
        _process = process;
        _log = log;
        BaseUrl = baseUrl;
        LogPath = logPath;
    }

    public string BaseUrl { get; }

    public string LogPath { get; }

    public int Pid => _process.Id;

    public static string AssemblyPath(string repoRoot, string configuration) =>
        Path.Combine(repoRoot, "Platform.Api", "bin", configuration, "net10.0", "Platform.Api.dll");

    public static async Task<PlatformProcess> StartAsync(
        string repoRoot, string configuration, string connectionString, string logPath, CancellationToken cancellationToken)
    {
        var assembly = AssemblyPath(repoRoot, configuration);
        if (!File.Exists(assembly))
        {
            throw new InvalidOperationException(
                $"{assembly} does not exist: build the platform first (dotnet build -c {configuration} Platform.Api)");
        }

        var port = FreePort.Next();
        var baseUrl = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(assembly);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(baseUrl);
        start.Environment["ConnectionStrings__Platform"] = connectionString;
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // Per-run Information lines ("Run … finished") would put console logging on the hot path; the figures are
        // for the engine. Warnings and errors still reach the log file.
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment.Remove("ASPNETCORE_URLS");

        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException("Could not start the platform process");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var platform = new PlatformProcess(process, log, baseUrl, logPath);
        try
        {
            await platform.WaitHealthyAsync(cancellationToken);
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }

        return platform;
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
                // A last line after the stop.
            }
        }
    }

    private async Task WaitHealthyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"The platform exited with code {_process.ExitCode} while starting; its output:{Environment.NewLine}{Tail()}");
            }

            try
            {
                using var response = await http.GetAsync("/health", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Not listening yet.
            }

            if (deadline.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException($"The platform did not become healthy within 2 minutes; its output:{Environment.NewLine}{Tail()}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private string Tail()
    {
        lock (_log)
        {
            _log.Flush();
        }

        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return string.Join(Environment.NewLine, reader.ReadToEnd().Split('\n').TakeLast(40));
        }
        catch (IOException ex)
        {
            return $"(could not read {LogPath}: {ex.Message})";
        }
    }

    /// <summary>Kills the process at once (last resort when the benchmark itself is exiting).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                // A graceful stop: the host releases its claims and Hangfire its server entry.
                using (var term = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString(CultureInfo.InvariantCulture) } }))
                {
                    await term!.WaitForExitAsync();
                }

                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                try
                {
                    await _process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    Kill();
                    await _process.WaitForExitAsync();
                }
            }
        }
        finally
        {
            _process.Dispose();
            lock (_log)
            {
                _log.Dispose();
            }
        }
    }
}
