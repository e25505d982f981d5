using Microsoft.AspNetCore.Components;
using Platform.Dashboard.Shared;
using Platform.Executor.Apps;
using Platform.Executor.Queries;

namespace Platform.Dashboard.Apps;

/// <summary>
/// <c>/apps</c>: registered apps with their health (last sync, last failed call against the last completed run) and
/// their functions with the runs of the last hour and day and their failure rate. Re-sync sends <c>PUT</c> to the app's URL (protocol.md §6.1)
/// through <see cref="AppSyncClient"/>; the app answers after it has registered again with <c>/fn/register</c>.
/// </summary>
public partial class AppsPage
{
    /// <summary>How far back (in failed attempts, all apps together) an app's last error is looked for.</summary>
    private const int RecentAttempts = 1_000;

    private IReadOnlyList<AppDto> _apps = [];
    private IReadOnlyList<FunctionView> _functions = [];
    private IReadOnlyDictionary<string, FunctionStatsDto> _stats = new Dictionary<string, FunctionStatsDto>();
    private IReadOnlyDictionary<string, AppHealthDto> _health = new Dictionary<string, AppHealthDto>();
    private (bool Ok, string Message)? _result;
    private string? _error;
    private DateTimeOffset _now;

    [Inject]
    private PlatformQueries Queries { get; set; } = default!;

    [Inject]
    private AppSyncClient SyncClient { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    protected override Task OnInitializedAsync() => LoadAsync();

    private async Task ResyncAsync(AppDto app)
    {
        var (status, body) = await SyncClient.RequestSyncAsync(app.Url, CancellationToken.None);
        _result = status is >= 200 and < 300
            ? (true, $"Re-synced {app.Name}: the app answered HTTP {status}.")
            : (false, $"Re-sync of {app.Name} failed: the app answered HTTP {status}: {body}");
        await LoadAsync();
    }

    private Task LoadAsync() => Guarded.RunAsync(async () =>
    {
        _apps = await Queries.ListAppsAsync(CancellationToken.None);
        _functions = (await Queries.ListFunctionsAsync(null, includeArchived: false, CancellationToken.None)).Select(FunctionView.From).ToList();
        _now = Time.GetUtcNow();
        _stats = (await Queries.FunctionStatsAsync(_now, CancellationToken.None)).ToDictionary(s => s.Slug, StringComparer.Ordinal);
        _health = (await Queries.AppHealthAsync(RecentAttempts, CancellationToken.None)).ToDictionary(h => h.App, StringComparer.Ordinal);
    }, error => _error = error);
}
