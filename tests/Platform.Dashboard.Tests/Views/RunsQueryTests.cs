using Platform.Dashboard.Runs;
using Platform.Executor.Queries;
using Platform.Executor.Runs;

namespace Platform.Dashboard.Tests.Views;

public sealed class RunsQueryTests
{
    [Fact]
    public void Parse_StatusInAnyCase_NormalizesToTheRunStatus()
    {
        var query = RunsQuery.Parse("failed", null, null, null);

        Assert.Equal(RunStatus.Failed, query.Status);
        Assert.Null(query.InvalidStatus);
        Assert.Equal("runs?status=Failed", query.Href);
    }

    [Fact]
    public void Parse_UnknownStatus_IgnoresItAndReportsIt()
    {
        var query = RunsQuery.Parse("Exploded", null, null, null);

        Assert.Null(query.Status);
        Assert.Equal("Exploded", query.InvalidStatus);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("a\0b")]
    public void Parse_BlankOrNulValue_CountsAsAbsent(string value)
    {
        var query = RunsQuery.Parse(value, value, value, value);

        Assert.Equal(RunsQuery.All, query);
        Assert.False(query.HasFilters);
        Assert.Equal("runs", query.Href);
    }

    [Fact]
    public void Parse_OversizedValue_CountsAsAbsent()
    {
        var query = RunsQuery.Parse(null, new string('f', 513), null, null);

        Assert.Null(query.Function);
    }

    [Fact]
    public void Href_AllFilters_EscapesValuesInAStableOrder()
    {
        var query = new RunsQuery(RunStatus.Sleeping, "shop-checkout", "my app&co", "01JCURSOR");

        Assert.Equal("runs?status=Sleeping&function=shop-checkout&app=my%20app%26co&cursor=01JCURSOR", query.Href);
    }

    [Fact]
    public void WithStatus_OnAnOlderPage_StartsFromTheNewestAgain()
    {
        var older = new RunsQuery(null, "shop-checkout", null, "01JCURSOR");

        var filtered = older.WithStatus(RunStatus.Failed);

        Assert.Null(filtered.Cursor);
        Assert.Equal("shop-checkout", filtered.Function);
        Assert.Equal("runs?status=Failed&function=shop-checkout", filtered.Href);
    }

    [Fact]
    public void ToFilter_AllFilters_AsksTheQueryServiceForOnePage()
    {
        var filter = new RunsQuery(RunStatus.Running, "shop-checkout", "shop", "01JCURSOR").ToFilter();

        Assert.Equal(["Running"], filter.Statuses);
        Assert.Equal("shop-checkout", filter.Function);
        Assert.Equal("shop", filter.App);
        Assert.Equal("01JCURSOR", filter.Cursor);
        Assert.Equal(RunsQuery.PageSize, filter.Limit);
    }

    [Fact]
    public void Build_Counts_OneTabPerStatusAfterAllWithTheTotal()
    {
        var counts = Enum.GetValues<RunStatus>().ToDictionary(s => s, _ => 0L);
        counts[RunStatus.Completed] = 40;
        counts[RunStatus.Failed] = 2;
        var query = new RunsQuery(RunStatus.Failed, null, "shop", null);

        var view = RunsView.Build(query, new Page<RunSummaryDto>([], "01JNEXT"), new RunCounts(counts, 42, 1000));

        Assert.Equal(["All", "Queued", "Running", "Sleeping", "Waiting", "Completed", "Failed", "Cancelled"], view.Tabs.Select(t => t.Label));
        Assert.Equal(42, view.Tabs[0].Count);
        Assert.Equal("runs?app=shop", view.Tabs[0].Href);
        var failed = Assert.Single(view.Tabs, t => t.Active);
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal(2, failed.Count);
        Assert.Equal("runs?status=Failed&app=shop&cursor=01JNEXT", view.OlderHref);
        Assert.Null(view.NewestHref);
    }

    [Fact]
    public void Build_OlderPageWithoutMore_LinksToTheNewestOnly()
    {
        var counts = Enum.GetValues<RunStatus>().ToDictionary(s => s, _ => 0L);

        var view = RunsView.Build(new RunsQuery(null, null, null, "01JCURSOR"), new Page<RunSummaryDto>([], null), new RunCounts(counts, 0, 1000));

        Assert.Null(view.OlderHref);
        Assert.Equal("runs", view.NewestHref);
    }

    [Fact]
    public void Build_CountsAtTheCap_ShownAsAtLeast()
    {
        var counts = Enum.GetValues<RunStatus>().ToDictionary(s => s, _ => 0L);
        counts[RunStatus.Completed] = 1000;
        counts[RunStatus.Failed] = 3;

        var view = RunsView.Build(RunsQuery.All, new Page<RunSummaryDto>([], null), new RunCounts(counts, 1000, 1000));

        Assert.Equal("1,000+", view.Tabs[0].CountText);
        Assert.Equal("1,000+", view.Tabs.Single(t => t.Status == RunStatus.Completed).CountText);
        Assert.Equal("3", view.Tabs.Single(t => t.Status == RunStatus.Failed).CountText);
    }

    [Fact]
    public void Parse_TimeRangeAndSearch_RoundTripThroughTheUrlAsUtc()
    {
        var query = RunsQuery.Parse(null, null, "shop", null, "2026-11-28T09:30", "2026-11-28T12:00:00+02:00", "  ord-42 ");

        Assert.Equal(new DateTimeOffset(2026, 11, 28, 9, 30, 0, TimeSpan.Zero), query.From);
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 10, 0, 0, TimeSpan.Zero), query.To);
        Assert.Equal("ord-42", query.Search);
        Assert.True(query.HasFilters);
        Assert.Equal("runs?app=shop&from=2026-11-28T09%3A30&to=2026-11-28T10%3A00&q=ord-42", query.Href);
        var filter = query.ToFilter();
        Assert.Equal((query.From, query.To, "ord-42"), (filter.From, filter.To, filter.Search));
        Assert.Equal(query, RunsQuery.Parse(null, null, "shop", null, "2026-11-28T09:30", "2026-11-28T10:00", "ord-42"));
    }

    [Fact]
    public void Parse_TimeThatIsNotATime_IgnoredAndReported()
    {
        var query = RunsQuery.Parse(null, null, null, null, "yesterday", null, null);

        Assert.Null(query.From);
        Assert.Equal("yesterday", query.InvalidTime);
        Assert.False(query.HasFilters);
    }
}
