using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Platform.Tests.EndToEnd;

/// <summary>
/// <c>tests/inngest-app</c> (a Node app on the real <c>inngest</c> npm SDK 4.24.0) as a child process, in dev mode,
/// pointed at a platform. It appends one line to <see cref="ExecLogPath"/> each time a step body runs.
/// </summary>
public sealed class InngestNodeApp : IDisposable
{
    public const string AppId = "node-app";

    private readonly ChildProcess _process;

    private InngestNodeApp(ChildProcess process, int port, string execLogPath)
    {
        _process = process;
        Port = port;
        ExecLogPath = execLogPath;
    }

    public int Port { get; }

    /// <summary>The app's serve endpoint, <c>http://127.0.0.1:&lt;port&gt;/api/inngest</c>.</summary>
    public string ServeUrl => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/api/inngest";

    public string ExecLogPath { get; }

    /// <summary>
    /// Starts <c>node server.mjs</c> on a free port with <c>INNGEST_BASE_URL</c> = <paramref name="platformBaseUrl"/>
    /// and waits for its <c>READY &lt;port&gt;</c> line. Installs the npm modules first if they are missing, and
    /// fails with a clear message when Node or npm are. <paramref name="extraEnvironment"/> adds variables (such as
    /// <c>CONFORMANCE_FUNCTIONS=1</c>, which serves the functions of the conformance suite too).
    /// </summary>
    public static async Task<InngestNodeApp> StartAsync(string platformBaseUrl, string execLogPath, IReadOnlyDictionary<string, string>? extraEnvironment = null)
    {
        var appDirectory = EnsureInstalled();
        var environment = new Dictionary<string, string>
        {
            ["INNGEST_DEV"] = "1",
            ["INNGEST_BASE_URL"] = platformBaseUrl,
            ["PORT"] = "0",
            ["APP_ID"] = AppId,
            ["EXEC_LOG"] = execLogPath,
        };
        foreach (var (name, value) in extraEnvironment ?? new Dictionary<string, string>())
        {
            environment[name] = value;
        }

        var process = ChildProcess.Start(
            "the Node test app (tests/inngest-app/server.mjs)",
            "node",
            ["server.mjs"],
            appDirectory,
            environment,
            removePrefixes: ["INNGEST_", "NODE_OPTIONS"],
            missingHint: "Node.js 20 or later must be on the PATH to run the SDK tests.");
        try
        {
            var ready = await process.WaitForLineAsync(l => l.StartsWith("READY ", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "its READY line");
            var port = int.Parse(ready["READY ".Length..].Trim(), CultureInfo.InvariantCulture);
            return new InngestNodeApp(process, port, execLogPath);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Syncs the app the way a deployment does: <c>PUT /api/inngest</c>, upon which the SDK registers its functions
    /// with the platform (<c>POST /fn/register</c>). Asserts the SDK's answer.
    /// </summary>
    public async Task<JsonElement> SyncAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        using var response = await http.PutAsync(ServeUrl, content: null);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK || !text.Contains("Successfully registered", StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"Syncing the Node app failed: HTTP {(int)response.StatusCode} {text}. App output:\n{_process.Tail()}");
        }

        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    /// <summary>Every step-body execution the app logged so far.</summary>
    public IReadOnlyList<ExecEntry> ReadExecLog() => ExecEntry.Read(ExecLogPath);

    /// <summary>The app's recent output, for failure messages.</summary>
    public string Tail() => _process.Tail();

    public void Dispose() => _process.Dispose();

    private static readonly Lazy<string> s_installed = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Returns the app's folder. On a fresh clone (no npm modules yet) it runs <c>npm ci</c> there once, so the
    /// README's test command works with nothing installed by hand; if that fails, it throws with npm's output.
    /// </summary>
    public static string EnsureInstalled() => s_installed.Value;

    private static string Install()
    {
        var appDirectory = AppDirectory();
        var sdkPackage = Path.Combine(appDirectory, "node_modules", "inngest", "package.json");
        if (File.Exists(sdkPackage))
        {
            return appDirectory;
        }

        var npm = new System.Diagnostics.ProcessStartInfo("npm")
        {
            WorkingDirectory = appDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "ci", "--no-audit", "--no-fund", "--loglevel=error" })
        {
            npm.ArgumentList.Add(arg);
        }

        string output;
        int exitCode;
        try
        {
            using var process = System.Diagnostics.Process.Start(npm)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"`npm ci` in {appDirectory} did not finish within 5 minutes");
            }

            output = stdout.Result + stderr.Result;
            exitCode = process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"npm is required to install the Node test app ({appDirectory}): {ex.Message}. Install Node 20 and npm.", ex);
        }

        if (exitCode != 0 || !File.Exists(sdkPackage))
        {
            throw new InvalidOperationException(
                $"The Node test app's npm modules are missing and `npm ci` in {appDirectory} failed (exit {exitCode}): {output}");
        }

        return appDirectory;
    }

    /// <summary>Finds tests/inngest-app by walking up from the test assembly's folder to the repository root.</summary>
    public static string AppDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "inngest-app");
            if (File.Exists(Path.Combine(candidate, "server.mjs")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"tests/inngest-app/server.mjs not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>One line of the app's EXEC_LOG: a step body of function <see cref="Fn"/> ran (at <see cref="At"/>, the app's clock).</summary>
public sealed record ExecEntry(string Fn, string Step, string RunId, int Attempt, DateTimeOffset? At = null)
{
    public static IReadOnlyList<ExecEntry> Read(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        // The app appends while we read: open shared, and ignore a last line that is not complete yet.
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var text = reader.ReadToEnd();
        var entries = new List<ExecEntry>();
        var lines = text.Split('\n');
        foreach (var line in lines.Take(lines.Length - 1))
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            entries.Add(new ExecEntry(
                e.GetProperty("fn").GetString()!,
                e.GetProperty("step").GetString()!,
                e.GetProperty("runId").GetString()!,
                e.GetProperty("attempt").GetInt32(),
                e.TryGetProperty("at", out var at) ? at.GetDateTimeOffset() : null));
        }

        return entries;
    }
}
