using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Platform.Executor.Security;
using Platform.Tests.EndToEnd;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Security;

/// <summary>
/// G10 (reliability.md §3): a production-mode platform does everything once — the SDK app syncs (register bearer),
/// events come in (event key), runs complete and fail (signed calls), the dashboard is signed into (API token), a
/// wrong token is tried — with every log category at Trace and scopes captured; then the captured log and a
/// <c>pg_dump</c> of the database are searched for every configured secret in plain, hex and base64 forms.
/// </summary>
public sealed class SecretsAtRestTests(ITestOutputHelper output)
{
    private const string PgDump = "/usr/lib/postgresql/15/bin/pg_dump";
    private const string EventKey2 = "second-event-key-7f3a9c";

    [Fact]
    public async Task EndToEnd_ProductionMode_NoSecretInLogsOrDatabaseDump()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"platform-g10-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        InngestNodeApp.EnsureInstalled();
        var log = new CapturingLoggerProvider();
        var settings = ProductionModeTests.Settings(ProductionModeTests.SigningKey, ProductionModeTests.FallbackKey);
        settings["Platform:EventKeys:1"] = EventKey2;
        foreach (var category in new[] { "Default", "Microsoft", "Microsoft.AspNetCore", "Microsoft.EntityFrameworkCore", "Microsoft.EntityFrameworkCore.Database.Command", "System", "System.Net.Http.HttpClient", "Hangfire" })
        {
            settings[$"Logging:LogLevel:{category}"] = "Trace";
        }

        await using var platform = await PlatformApp.StartAsync("g10", settings, b => b.ConfigureServices(s => s.AddSingleton<ILoggerProvider>(log)));
        using var app = await InngestNodeApp.StartAsync(platform.BaseUrl, Path.Combine(directory, "exec.log"), new Dictionary<string, string>
        {
            ["INNGEST_DEV"] = "0",
            ["INNGEST_SIGNING_KEY"] = ProductionModeTests.SigningKey,
            ["INNGEST_EVENT_KEY"] = ProductionModeTests.EventKey,
        });
        using var api = new HttpClient { BaseAddress = new Uri(platform.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ProductionModeTests.ApiToken);
        try
        {
            using var sync = await api.PostAsJsonAsync("/api/v1/apps/sync", new { url = app.ServeUrl });
            Assert.True(sync.StatusCode == HttpStatusCode.OK, $"sync answered {(int)sync.StatusCode}: {await sync.Content.ReadAsStringAsync()}");

            var runs = new List<string>();
            foreach (var (name, key) in new[] { ("test/two-steps", ProductionModeTests.EventKey), ("test/fails", EventKey2) })
            {
                using var sent = await api.PostAsJsonAsync($"/e/{key}", new { name, data = new { x = 1 } });
                var text = await sent.Content.ReadAsStringAsync();
                Assert.True(sent.StatusCode == HttpStatusCode.OK, $"event answered {(int)sent.StatusCode}: {text}");
                using var ids = JsonDocument.Parse(text);
                runs.Add(await PlatformHttp.RunIdOfEventAsync(api, $"{InngestNodeApp.AppId}-{name["test/".Length..]}", ids.RootElement.GetProperty("ids")[0].GetString()!));
            }

            Assert.Equal("Completed", (await PlatformHttp.WaitFinalAsync(api, runs[0])).GetProperty("status").GetString());
            Assert.Equal("Failed", (await PlatformHttp.WaitFinalAsync(api, runs[1])).GetProperty("status").GetString());

            // The dashboard: a wrong token, then the right one, then a page; a wrong bearer on the API.
            using var browser = new DashboardBrowser(platform);
            var token = await browser.FormTokenAsync("/login");
            (await browser.PostFormAsync("/login", [new("token", "not-the-token"), new("__RequestVerificationToken", token)])).Dispose();
            Assert.Equal(HttpStatusCode.SeeOther, (await browser.SignInAsync(ProductionModeTests.ApiToken)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await browser.Http.GetAsync($"/runs/{runs[0]}")).StatusCode);
            using var wrongEvent = await platform.Http.PostAsync("/e/not-an-event-key", new StringContent("{}", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Unauthorized, wrongEvent.StatusCode);
        }
        catch
        {
            output.WriteLine($"Node app output:\n{app.Tail()}");
            throw;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }

        var logText = log.Text();
        var dump = await DumpAsync(platform.ConnectionString);
        var forms = SecretForms().ToList();
        var leaks = forms
            .SelectMany(f => new[] { ("log", logText), ("pg_dump", dump) }.Where(w => w.Item2.Contains(f.Value, StringComparison.OrdinalIgnoreCase)).Select(w => $"{f.Name} in {w.Item1}"))
            .ToList();

        Assert.True(log.Count > 300, $"only {log.Count} log entries were captured");
        Assert.Contains("/fn/register", logText, StringComparison.Ordinal);
        // The harness allowlists loopback (its apps are on 127.0.0.1): production mode says so at start.
        Assert.Matches(@"(?m)^Warning [\w.]+: Platform:Security:AllowLoopbackApps is set", logText);
        Assert.Contains("two-steps", dump, StringComparison.Ordinal);
        foreach (var leak in leaks)
        {
            output.WriteLine(leak);
            var index = (leak.EndsWith("in log", StringComparison.Ordinal) ? logText : dump).IndexOf(forms.First(f => leak.StartsWith(f.Name + " in", StringComparison.Ordinal)).Value, StringComparison.OrdinalIgnoreCase);
            output.WriteLine("  …" + (leak.EndsWith("in log", StringComparison.Ordinal) ? logText : dump).Substring(Math.Max(0, index - 300), Math.Min(400, (leak.EndsWith("in log", StringComparison.Ordinal) ? logText : dump).Length - Math.Max(0, index - 300))));
        }

        Assert.Empty(leaks);
        Console.WriteLine($"G10: {forms.Count} secret forms searched in {log.Count} log entries ({logText.Length:N0} chars, Trace, scopes included) and a {dump.Length:N0}-char pg_dump; plaintext matches 0.");
    }

    /// <summary>Every configured secret, and the encodings it could show up in.</summary>
    private static IEnumerable<(string Name, string Value)> SecretForms()
    {
        var secrets = new (string Name, string Value)[]
        {
            ("signing key", ProductionModeTests.SigningKey),
            ("fallback key", ProductionModeTests.FallbackKey),
            ("event key", ProductionModeTests.EventKey),
            ("event key 2", EventKey2),
            ("API token", ProductionModeTests.ApiToken),
        };
        foreach (var (name, value) in secrets)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            yield return (name, value);
            yield return ($"{name} (hex)", Convert.ToHexString(bytes));
            yield return ($"{name} (base64)", Convert.ToBase64String(bytes));
            yield return ($"{name} (URL-encoded)", Uri.EscapeDataString(value));
            if (name.EndsWith("key", StringComparison.Ordinal) && SigningKeys.IsValid(value) && value.StartsWith("signkey-", StringComparison.Ordinal))
            {
                var normalized = SigningKeys.Normalize(value);
                var keyBytes = Convert.FromHexString(normalized);
                yield return ($"{name} (without prefix)", normalized);
                yield return ($"{name} (bytes, base64)", Convert.ToBase64String(keyBytes));
                // The SDK's register bearer is a credential in its own right (/fn/register accepts it).
                yield return ($"{name} (bearer hash)", Convert.ToHexStringLower(SHA256.HashData(keyBytes)));
            }
        }
    }

    private static async Task<string> DumpAsync(string connectionString)
    {
        var c = new NpgsqlConnectionStringBuilder(connectionString);
        var start = new ProcessStartInfo(PgDump)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            ArgumentList = { "-h", c.Host!, "-p", c.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", c.Username!, "-d", c.Database!, "--no-owner" },
        };
        start.Environment["PGPASSWORD"] = c.Password;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"pg_dump failed: {await stderr}");
        return await stdout;
    }

    /// <summary>Keeps every log entry: category, level, formatted message, structured state, exception and scopes.</summary>
    private sealed class CapturingLoggerProvider : ILoggerProvider, ISupportExternalScope
    {
        private readonly ConcurrentQueue<string> _entries = new();
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public int Count => _entries.Count;

        public string Text() => string.Join("\n", _entries);

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var text = new StringBuilder($"{logLevel} {category}: {formatter(state, exception)}");
                if (state is IEnumerable<KeyValuePair<string, object?>> values)
                {
                    foreach (var (key, value) in values)
                    {
                        text.Append(CultureInfo.InvariantCulture, $" [{key}={value}]");
                    }
                }

                provider._scopes.ForEachScope((scope, sb) =>
                {
                    sb.Append(" scope: ").Append(scope);
                    if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
                    {
                        foreach (var (key, value) in pairs)
                        {
                            sb.Append(CultureInfo.InvariantCulture, $" [{key}={value}]");
                        }
                    }
                }, text);
                if (exception is not null)
                {
                    text.Append(' ').Append(exception);
                }

                provider._entries.Enqueue(text.ToString());
            }
        }
    }
}
