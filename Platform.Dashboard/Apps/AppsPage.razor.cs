using Microsoft.AspNetCore.Components;
using Platform.Dashboard.Shared;
using Platform.Executor.Apps;
using Platform.Executor.Queries;

namespace Platform.Dashboard.Apps;

/// <summary>
/// <c>/apps</c>: registered apps with their functions. Re-sync sends <c>PUT</c> to the app's URL (protocol.md §6.1)
/// through <see cref="AppSyncClient"/>; the app answers after it has registered again with <c>/fn/register</c>.
/// </summary>
public partial class AppsPage
{
    private IReadOnlyList<AppDto> _apps = [];
    private IReadOnlyList<FunctionView> _functions = [];
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
    }, error => _error = error);
}
