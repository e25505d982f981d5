using System.Text;
using Platform.Dashboard.Shared;
using Platform.Executor.Queries;
using Platform.Executor.Runs;

namespace Platform.Dashboard.Runs;

/// <summary>
/// The runs page's filters as they appear in its URL (<c>runs?status=Failed&amp;function=shop-charge&amp;app=shop</c>),
/// so that every view can be shared. Paging is by cursor: <see cref="Cursor"/> is the last run id of the previous page.
/// </summary>
public sealed record RunsQuery(RunStatus? Status, string? Function, string? App, string? Cursor)
{
    public const int PageSize = 50;

    public static readonly RunsQuery All = new(null, null, null, null);

    /// <summary>The status text from the URL when it names no run status (shown as a warning).</summary>
    public string? InvalidStatus { get; init; }

    public bool HasFilters => Status is not null || Function is not null || App is not null;

    /// <summary>Reads the query string's values; blank, oversized and NUL-bearing values count as absent.</summary>
    public static RunsQuery Parse(string? status, string? function, string? app, string? cursor)
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

        return new RunsQuery(parsed, UrlValues.Clean(function), UrlValues.Clean(app), UrlValues.Clean(cursor)) { InvalidStatus = invalid };
    }

    public RunsQuery WithStatus(RunStatus? status) => this with { Status = status, Cursor = null, InvalidStatus = null };

    public RunsQuery WithFunction(string? function) => this with { Function = function, Cursor = null };

    public RunsQuery WithApp(string? app) => this with { App = app, Cursor = null };

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
            Append(query, "cursor", Cursor);
            return "runs" + query;
        }
    }

    /// <summary>What the query service reads for this page (one extra row tells whether an older page exists).</summary>
    public RunFilter ToFilter() =>
        new(Status is { } s ? [s.ToString()] : null, Function, null, null, Cursor, PageSize) { App = App };

    private static void Append(StringBuilder query, string name, string? value)
    {
        if (value is null)
        {
            return;
        }

        query.Append(query.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
    }
}
