using System.Text.Json;
using Microsoft.AspNetCore.Components;
using Platform.Dashboard.Shared;
using Platform.Executor.Events;
using Platform.Executor.Queries;

namespace Platform.Dashboard.Events;

/// <summary>
/// <c>/events</c>: received events with cursor paging, and the "Send test event" form. Server-rendered; the form
/// posts with antiforgery (enhanced by blazor.web.js when it is loaded, a plain POST otherwise).
/// </summary>
public partial class EventsPage
{
    public const int PageSize = 50;

    private Page<EventDto> _page = new([], null);
    private SendEventCheck? _check;
    private (string Id, int Runs)? _sent;
    private string? _error;
    private DateTimeOffset _now;

    [Inject]
    private PlatformQueries Queries { get; set; } = default!;

    [Inject]
    private EventIngest Ingest { get; set; } = default!;

    [Inject]
    private TimeProvider Time { get; set; } = default!;

    [SupplyParameterFromQuery(Name = "cursor")]
    public string? Cursor { get; set; }

    [SupplyParameterFromForm(FormName = "send-event")]
    public SendEventForm? Form { get; set; }

    protected override async Task OnInitializedAsync()
    {
        Form ??= new SendEventForm { Name = "test/hello", Data = "{\n  \"hello\": \"world\"\n}" };
        await LoadAsync();
    }

    private async Task SendAsync()
    {
        _check = Form!.Check(Time.GetUtcNow().ToUnixTimeMilliseconds());
        if (_check.Events is not { } events)
        {
            return;
        }

        await Guarded.RunAsync(async () =>
        {
            var result = await Ingest.IngestAsync(events, idSeed: null, CancellationToken.None);
            _sent = (result.Ids[0], result.RunIds.Count);
        }, error => _error = error);
        await LoadAsync();
    }

    private Task LoadAsync() => Guarded.RunAsync(async () =>
    {
        _page = await Queries.ListEventsAsync(null, UrlValues.Clean(Cursor), PageSize, CancellationToken.None);
        _now = Time.GetUtcNow();
    }, error => _error = error);

    private static string Preview(EventDto e, int max)
    {
        var text = e.Data.ValueKind == JsonValueKind.Undefined ? "{}" : e.Data.GetRawText();
        return text.Length <= max ? text : text[..(max - 1)] + "…";
    }
}
