using Microsoft.AspNetCore.Components;
using Platform.Dashboard.Shared;
using Platform.Executor.Queries;

namespace Platform.Dashboard.Runs;

/// <summary>
/// <c>/</c> and <c>/runs</c>: the live list of runs. Prerendered on the server, then interactive over the circuit,
/// where it re-reads the current page and the counts every second until the page is left.
/// </summary>
public partial class RunsPage : IAsyncDisposable
{
    internal static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(1);

    private RunsQuery _query = RunsQuery.All;
    private RunsView? _view;
    private IReadOnlyList<FunctionDto> _functions = [];
    private IReadOnlyList<AppDto> _apps = [];
    private DateTimeOffset _now;
    private bool _live;
    private string? _error;
    private LiveRefresh? _refresh;

    [Inject]
    private PlatformQueries Queries { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [SupplyParameterFromQuery(Name = "status")]
    public string? Status { get; set; }

    [SupplyParameterFromQuery(Name = "function")]
    public string? Function { get; set; }

    [SupplyParameterFromQuery(Name = "app")]
    public string? App { get; set; }

    [SupplyParameterFromQuery(Name = "cursor")]
    public string? Cursor { get; set; }

    protected override async Task OnInitializedAsync()
    {
        await Guarded.RunAsync(async () =>
        {
            _functions = await Queries.ListFunctionsAsync(null, includeArchived: false, CancellationToken.None);
            _apps = await Queries.ListAppsAsync(CancellationToken.None);
        }, error => _error = error);
    }

    protected override async Task OnParametersSetAsync()
    {
        _query = RunsQuery.Parse(Status, Function, App, Cursor);
        await Guarded.RunAsync(async () =>
        {
            _view = await LoadAsync(_query, CancellationToken.None);
            _now = Time.GetUtcNow();
            _error = null;
        }, error => _error = error);
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender && RendererInfo.IsInteractive)
        {
            _live = true;
            _refresh = LiveRefresh.Start(RefreshPeriod, Time, RefreshAsync, ex => InvokeAsync(() =>
            {
                _error = Guarded.Describe(ex);
                StateHasChanged();
            }));
            StateHasChanged();
        }
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var query = _query;
        var view = await LoadAsync(query, cancellationToken);
        await InvokeAsync(() =>
        {
            // The filters may have changed while this read ran; its result belongs to the old ones.
            if (query == _query)
            {
                _view = view;
                _now = Time.GetUtcNow();
                _error = null;
                StateHasChanged();
            }
        });
    }

    private async Task<RunsView> LoadAsync(RunsQuery query, CancellationToken cancellationToken)
    {
        var page = await Queries.ListRunsAsync(query.ToFilter(), cancellationToken);
        var counts = await Queries.CountRunsByStatusAsync(query.Function, query.App, cancellationToken);
        return RunsView.Build(query, page, counts);
    }

    public async ValueTask DisposeAsync()
    {
        if (_refresh is not null)
        {
            await _refresh.DisposeAsync();
        }
    }
}
