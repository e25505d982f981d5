using Microsoft.AspNetCore.Components;
using Platform.Dashboard.Shared;
using Platform.Executor.Queries;

namespace Platform.Dashboard.Events;

/// <summary>
/// <c>/events/{eventId}</c>: one event's payload and the runs it started. An unknown id answers 404 with the router's
/// <see cref="Shared.NotFound"/> page (<see cref="NavigationManager.NotFound"/>).
/// </summary>
public partial class EventPage
{
    private EventDto? _event;
    private IReadOnlyList<RunSummaryDto> _runs = [];
    private string? _error;
    private DateTimeOffset _now;

    [Parameter]
    public string EventId { get; set; } = "";

    [Inject]
    private PlatformQueries Queries { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    protected override async Task OnParametersSetAsync()
    {
        await Guarded.RunAsync(async () =>
        {
            _event = UrlValues.Clean(EventId) is { } id ? await Queries.GetEventAsync(id, CancellationToken.None) : null;
            _runs = _event is null ? [] : await Queries.ListRunsOfEventAsync(_event.Id, CancellationToken.None);
            _now = Time.GetUtcNow();
        }, error => _error = error);
        if (_event is null && _error is null)
        {
            Navigation.NotFound(); // 404 with the router's NotFound page
        }
    }
}
