using Platform.Executor.Queries;
using Platform.Executor.Runs;

namespace Platform.Dashboard.Runs;

/// <summary>A status tab of the runs page: a filter link with the number of runs in that status.</summary>
public sealed record StatusTab(string Label, RunStatus? Status, long Count, bool Active, string Href);

/// <summary>What the runs page shows for a <see cref="RunsQuery"/>: tabs with counts, one page of runs, paging links.</summary>
public sealed record RunsView(RunsQuery Query, IReadOnlyList<StatusTab> Tabs, IReadOnlyList<RunSummaryDto> Runs, string? OlderHref, string? NewestHref)
{
    public static RunsView Build(RunsQuery query, Page<RunSummaryDto> page, IReadOnlyDictionary<RunStatus, long> counts)
    {
        var tabs = new List<StatusTab> { new("All", null, counts.Values.Sum(), query.Status is null, query.WithStatus(null).Href) };
        foreach (var status in Enum.GetValues<RunStatus>())
        {
            tabs.Add(new StatusTab(status.ToString(), status, counts.GetValueOrDefault(status), query.Status == status, query.WithStatus(status).Href));
        }

        return new RunsView(
            query,
            tabs,
            page.Items,
            page.NextCursor is { } cursor ? query.Older(cursor).Href : null,
            query.Cursor is null ? null : query.Newest().Href);
    }
}
