using System.Globalization;
using Microsoft.AspNetCore.Components;
using Platform.Dashboard.Shared;
using Platform.Executor.Queries;
using Platform.Executor.Runs;

namespace Platform.Dashboard.Runs;

/// <summary>
/// <c>/runs/{runId}</c>: one run with its steps, timeline and result, refreshed every second over the circuit
/// while it is open (a finished run no longer changes, so the refresh stops then). Cancel acts through
/// <see cref="RunCommands"/>, the same path as the API's cancel; so do Rerun and "Rerun from here" (a step), which
/// then open the new run's page.
/// </summary>
public partial class RunPage : IAsyncDisposable
{
    private RunDetailView? _view;
    private bool _loaded;
    private bool _live;
    private bool _confirmingCancel;
    private bool _cancelling;
    private bool _rerunning;
    private string? _error;
    private string? _notice;
    private string? _actionError;
    private LiveRefresh? _refresh;

    [Parameter]
    public string RunId { get; set; } = "";

    [Inject]
    private PlatformQueries Queries { get; set; } = default!;

    [Inject]
    private RunCommands Commands { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    protected override async Task OnParametersSetAsync()
    {
        _confirmingCancel = false;
        _notice = null;
        _actionError = null;
        await Guarded.RunAsync(async () =>
        {
            _view = await LoadAsync(RunId, CancellationToken.None);
            _error = null;
        }, error => _error = error);
        _loaded = true;
        if (_view is null && _error is null)
        {
            Navigation.NotFound(); // 404 on the server render, the router's NotFound page in both
        }
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender && RendererInfo.IsInteractive)
        {
            _live = true;
            _refresh = LiveRefresh.Start(RunsPage.RefreshPeriod, Time, RefreshAsync, ex => InvokeAsync(() =>
            {
                _error = Guarded.Describe(ex);
                StateHasChanged();
            }));
            StateHasChanged();
        }
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var runId = RunId;
        if (_view is { Finished: true } finished && finished.Run.Id == runId)
        {
            return; // Final: nothing about it changes any more.
        }

        var view = await LoadAsync(runId, cancellationToken);
        await InvokeAsync(() =>
        {
            if (runId == RunId)
            {
                _view = view;
                _error = null;
                StateHasChanged();
            }
        });
    }

    private async Task<RunDetailView?> LoadAsync(string runId, CancellationToken cancellationToken)
    {
        if (UrlValues.Clean(runId) is not { } id)
        {
            return null;
        }

        var run = await Queries.GetRunAsync(id, cancellationToken);
        return run is null ? null : RunDetailView.Build(run, Time.GetUtcNow());
    }

    private async Task CancelAsync()
    {
        _cancelling = true;
        try
        {
            var (found, cancelled, status) = await Commands.CancelAsync(RunId, CancellationToken.None);
            _notice = !found ? "The run no longer exists."
                : cancelled ? "Cancelled. The run calls the app no more."
                : $"The run had already finished ({status}); nothing to cancel.";
            _view = await LoadAsync(RunId, CancellationToken.None);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException || Executor.Storage.PlatformDatabase.IsUnavailable(ex))
        {
            _error = "Could not cancel: " + Guarded.Describe(ex);
        }
        finally
        {
            _cancelling = false;
            _confirmingCancel = false;
        }
    }

    /// <summary>Reruns this run (from <paramref name="fromStepId"/> if given) and opens the new run; a refusal stays here as a notice.</summary>
    private async Task RerunAsync(string? fromStepId)
    {
        _rerunning = true;
        try
        {
            var result = await Commands.RerunAsync(RunId, fromStepId, CancellationToken.None);
            if (result.Outcome == RerunOutcome.Created)
            {
                Navigation.NavigateTo($"runs/{Uri.EscapeDataString(result.RunId!)}");
                return;
            }

            _actionError = "Could not rerun: " + result.Detail;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException || Executor.Storage.PlatformDatabase.IsUnavailable(ex))
        {
            _actionError = "Could not rerun: " + Guarded.Describe(ex);
        }
        finally
        {
            _rerunning = false;
        }
    }

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";

    private static string Percent(double value) => value.ToString("0.###", CultureInfo.InvariantCulture) + "%";

    public async ValueTask DisposeAsync()
    {
        if (_refresh is not null)
        {
            await _refresh.DisposeAsync();
        }
    }
}
