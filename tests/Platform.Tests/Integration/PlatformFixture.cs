using Platform.Tests.Infrastructure;

namespace Platform.Tests.Integration;

/// <summary>
/// One platform shared by the tests of a class (xunit class fixture), with no Hangfire workers: runs are created
/// and stored but never executed, so tests look at exactly what ingest and the store wrote. The wake-up and sweep
/// loops run once at start and then only every hour, so they do not move runs under a test.
/// </summary>
public abstract class PlatformFixture(string name) : IAsyncLifetime
{
    public static readonly IReadOnlyDictionary<string, string?> NoWorkers = new Dictionary<string, string?>
    {
        ["Executor:WorkerCount"] = "0",
        ["Executor:WakeInterval"] = "01:00:00",
        ["Executor:SweepInterval"] = "01:00:00",
    };

    public PlatformApp Platform { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Platform = await PlatformApp.StartAsync(name, NoWorkers);
        await OnStartedAsync(Platform);
    }

    /// <summary>Registers what the class needs (apps, functions).</summary>
    protected abstract Task OnStartedAsync(PlatformApp platform);

    public async Task DisposeAsync() => await Platform.DisposeAsync();
}
