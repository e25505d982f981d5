using System.Globalization;
using Platform.Executor.Queries;
using Platform.Executor.Runs;

namespace Platform.Dashboard.Runs;

/// <summary>A status tab of the runs page: a filter link with the number of runs in that status (capped: "10,000+").</summary>
public sealed record StatusTab(string Label, RunStatus? Status, long Count, bool Capped, bool Active, string Href)
{
    public string CountText => Count.ToString("N0", CultureInfo.InvariantCulture) + (Capped ? "+" : "");
}

/// <summary>What the runs page shows for a <see cref="RunsQuery"/>: tabs with counts, one page of runs, paging links.</summary>
public sealed record RunsView(RunsQuery Query, IReadOnlyList<StatusTab> Tabs, IReadOnlyList<RunSummaryDto> Runs, string? OlderHref, string? NewestHref)
{
    /// <summary>
    /// True when a search stopped at its budget before the page filled: older runs were not searched yet, and the
    /// Older link goes on from where it stopped.
    /// </summary>
    public bool SearchCutShort { get; init; }

    public static RunsView Build(RunsQuery query, Page<RunSummaryDto> page, RunCounts counts)
    {
        var tabs = new List<StatusTab> { new("All", null, counts.All, counts.IsCapped(counts.All), query.Status is null, query.WithStatus(null).Href) };
        foreach (var status in Enum.GetValues<RunStatus>())
        {
            var count = counts.ByStatus.GetValueOrDefault(status);
            tabs.Add(new StatusTab(status.ToString(), status, count, counts.IsCapped(count), query.Status == status, query.WithStatus(status).Href));
        }

        return new RunsView(
            query,
            tabs,
            page.Items,
            page.NextCursor is { } cursor ? query.Older(cursor).Href : null,
            query.Cursor is null ? null : query.Newest().Href)
        {
            SearchCutShort = query.Search is not null && page.NextCursor is not null && page.Items.Count < RunsQuery.PageSize,
        };
    }
}
