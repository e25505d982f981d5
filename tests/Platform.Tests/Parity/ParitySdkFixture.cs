using System.Text.Json;
using Platform.Tests.EndToEnd;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Parity;

/// <summary>
/// One in-process platform and one Node app on the real <c>inngest</c> SDK 4.24.0 serving the parity functions too
/// (<c>PARITY_FUNCTIONS=1</c>), synced once and shared by the parity tests with the SDK.
/// </summary>
public sealed class ParitySdkFixture : IAsyncLifetime
{
    public const string Prefix = InngestNodeApp.AppId + "-";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"platform-parity-sdk-{Guid.NewGuid():N}");
    private PlatformApp? _platform;
    private InngestNodeApp? _app;

    public PlatformApp Platform => _platform ?? throw new InvalidOperationException("not started");

    public InngestNodeApp App => _app ?? throw new InvalidOperationException("not started");

    public HttpClient Http => Platform.Http;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        try
        {
            InngestNodeApp.EnsureInstalled();
            _platform = await PlatformApp.StartAsync("parity_sdk");
            _app = await InngestNodeApp.StartAsync(_platform.BaseUrl, Path.Combine(_directory, "exec.log"),
                new Dictionary<string, string> { ["PARITY_FUNCTIONS"] = "1" });
            await _app.SyncAsync();
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

    /// <summary>Sends <paramref name="eventName"/> with a fresh id and returns the run it started of <paramref name="function"/>.</summary>
    public async Task<string> StartAsync(string function, string eventName, object data)
    {
        var eventId = await PlatformHttp.SendEventAsync(Http, eventName, data, $"{function}-{Guid.NewGuid():N}");
        return await PlatformHttp.RunIdOfEventAsync(Http, Prefix + function, eventId);
    }

    /// <summary>Waits for the run to end; on a timeout prints the Node app's output into the exception.</summary>
    public async Task<JsonElement> FinalAsync(string runId)
    {
        try
        {
            return await PlatformHttp.WaitFinalAsync(Http, runId);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}\nNode app output:\n{App.Tail()}", ex);
        }
    }

    /// <summary>The step bodies of <paramref name="function"/> the app executed for a run, in order.</summary>
    public string[] Executed(string function, string runId) =>
        App.ReadExecLog().Where(e => e.Fn == function && e.RunId == runId).Select(e => e.Step).ToArray();

    public static string? Status(JsonElement run) => run.GetProperty("status").GetString();
}

[CollectionDefinition(Name)]
public sealed class ParitySdkCollection : ICollectionFixture<ParitySdkFixture>
{
    public const string Name = "Parity with the inngest SDK";
}
