using System.Globalization;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.Options;
using Platform.Dashboard.Shared;
using Platform.Executor.Queries;

namespace Platform.Dashboard.Runs;

/// <summary>
/// <c>/</c> and <c>/runs</c>: the live list of runs. Prerendered on the server, then interactive over the circuit,
/// where it re-reads the current page and the counts when runs change (PostgreSQL notifications through
/// <see cref="RunChangeFeed"/>, at most four times a second), or every few seconds while notifications are down.
/// </summary>
public partial class RunsPage : IAsyncDisposable
{
    /// <summary>The run page's polling period (that page still polls).</summary>
    internal static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(1);

    private static readonly string s_searchHelp = string.Create(CultureInfo.InvariantCulture,
        $"Case-insensitive text contained in the event's data or the run's output (JSON as stored, e.g. ord-42 or \"sku\": \"A-1\"). Each page searches at most the {PlatformQueries.SearchBudget:N0} newest runs that match the other filters; narrow with the time range to reach further back. The status counts leave the search out.");

    /// <summary>Links that set <c>from</c> to this long before now (and clear <c>to</c>).</summary>
    private static readonly (string Label, TimeSpan Span)[] s_quickRanges =
        [("Last hour", TimeSpan.FromHours(1)), ("Last 24 h", TimeSpan.FromDays(1)), ("Last 7 days", TimeSpan.FromDays(7))];

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

    [Inject]
    private RunChangeFeed Feed { get; set; } = default!;

    [Inject]
    private IOptions<LiveOptions> Options { get; set; } = default!;

    [SupplyParameterFromQuery(Name = "status")]
    public string? Status { get; set; }

    [SupplyParameterFromQuery(Name = "function")]
    public string? Function { get; set; }

    [SupplyParameterFromQuery(Name = "app")]
    public string? App { get; set; }

    [SupplyParameterFromQuery(Name = "cursor")]
    public string? Cursor { get; set; }

    [SupplyParameterFromQuery(Name = "from")]
    public string? From { get; set; }

    [SupplyParameterFromQuery(Name = "to")]
    public string? To { get; set; }

    [SupplyParameterFromQuery(Name = "q")]
    public string? Search { get; set; }

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
        _query = RunsQuery.Parse(Status, Function, App, Cursor, From, To, Search);
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
            _refresh = LiveRefresh.Follow(Feed, Options.Value, Time, RefreshAsync, ex => InvokeAsync(() =>
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
        // Two connections at once: the page waits for the slower read, not for both.
        var filter = query.ToFilter();
        var page = Queries.ListRunsAsync(filter, cancellationToken);
        var counts = Queries.CountRunsAsync(filter, cancellationToken);
        await Task.WhenAll(page, counts);
        return RunsView.Build(query, await page, await counts);
    }

    public async ValueTask DisposeAsync()
    {
        if (_refresh is not null)
        {
            await _refresh.DisposeAsync();
        }
    }
}
