using System.Globalization;
using System.Text;
using Platform.Dashboard.Shared;
using Platform.Executor.Queries;
using Platform.Executor.Runs;

namespace Platform.Dashboard.Runs;

/// <summary>
/// The runs page's filters as they appear in its URL
/// (<c>runs?status=Failed&amp;function=shop-charge&amp;app=shop&amp;from=2026-11-28T09:00&amp;to=…&amp;q=ord-42</c>), so
/// that every view can be shared. Times are UTC (<c>yyyy-MM-ddTHH:mm[:ss]</c>, an offset is honoured). Paging is by
/// cursor: <see cref="Cursor"/> is the last run id of the previous page.
/// </summary>
public sealed record RunsQuery(RunStatus? Status, string? Function, string? App, string? Cursor)
{
    public const int PageSize = 50;

    public static readonly RunsQuery All = new(null, null, null, null);

    /// <summary>Runs created at or after this time.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Runs created before this time.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>Text the run's event data or output contains (case-insensitive).</summary>
    public string? Search { get; init; }

    /// <summary>The status text from the URL when it names no run status (shown as a warning).</summary>
    public string? InvalidStatus { get; init; }

    /// <summary>A <c>from</c> or <c>to</c> from the URL that is not a time (shown as a warning).</summary>
    public string? InvalidTime { get; init; }

    public bool HasFilters => Status is not null || Function is not null || App is not null || From is not null || To is not null || Search is not null;

    /// <summary>Reads the query string's values; blank, oversized and NUL-bearing values count as absent.</summary>
    public static RunsQuery Parse(string? status, string? function, string? app, string? cursor) =>
        Parse(status, function, app, cursor, null, null, null);

    /// <summary>Reads the query string's values; blank, oversized and NUL-bearing values count as absent.</summary>
    public static RunsQuery Parse(string? status, string? function, string? app, string? cursor, string? from, string? to, string? search)
    {
        var statusText = UrlValues.Clean(status);
        RunStatus? parsed = null;
        string? invalid = null;
        if (statusText is not null)
        {
            if (RunStatuses.TryParse(statusText, out var s))
            {
                parsed = s;
            }
            else
            {
                invalid = statusText;
            }
        }

        string? invalidTime = null;
        var fromTime = ParseTime(UrlValues.Clean(from), ref invalidTime);
        var toTime = ParseTime(UrlValues.Clean(to), ref invalidTime);
        return new RunsQuery(parsed, UrlValues.Clean(function), UrlValues.Clean(app), UrlValues.Clean(cursor))
        {
            From = fromTime,
            To = toTime,
            Search = UrlValues.Clean(search),
            InvalidStatus = invalid,
            InvalidTime = invalidTime,
        };
    }

    public RunsQuery WithStatus(RunStatus? status) => this with { Status = status, Cursor = null, InvalidStatus = null };

    public RunsQuery WithFunction(string? function) => this with { Function = function, Cursor = null };

    public RunsQuery WithApp(string? app) => this with { App = app, Cursor = null };

    public RunsQuery WithRange(DateTimeOffset? from, DateTimeOffset? to) => this with { From = from, To = to, Cursor = null, InvalidTime = null };

    public RunsQuery WithSearch(string? search) => this with { Search = search, Cursor = null };

    public RunsQuery Older(string cursor) => this with { Cursor = cursor };

    public RunsQuery Newest() => this with { Cursor = null };

    /// <summary>The page's address relative to the dashboard's base: <c>runs</c> plus the non-empty filters.</summary>
    public string Href
    {
        get
        {
            var query = new StringBuilder();
            Append(query, "status", Status?.ToString());
            Append(query, "function", Function);
            Append(query, "app", App);
            Append(query, "from", TimeText(From));
            Append(query, "to", TimeText(To));
            Append(query, "q", Search);
            Append(query, "cursor", Cursor);
            return "runs" + query;
        }
    }

    /// <summary>A time as the URL and the form's <c>datetime-local</c> inputs write it: UTC, seconds only when set.</summary>
    public static string? TimeText(DateTimeOffset? time) => time?.UtcDateTime.ToString(
        time.Value.Second == 0 && time.Value.Millisecond == 0 ? "yyyy-MM-ddTHH:mm" : "yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>What the query service reads for this page (one extra row tells whether an older page exists).</summary>
    public RunFilter ToFilter() =>
        new(Status is { } s ? [s.ToString()] : null, Function, From, To, Cursor, PageSize) { App = App, Search = Search };

    private static DateTimeOffset? ParseTime(string? text, ref string? invalid)
    {
        if (text is null)
        {
            return null;
        }

        // No offset means UTC: the dashboard shows every time in UTC.
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            return time;
        }

        invalid ??= text;
        return null;
    }

    private static void Append(StringBuilder query, string name, string? value)
    {
        if (value is null)
        {
            return;
        }

        query.Append(query.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
    }
}
