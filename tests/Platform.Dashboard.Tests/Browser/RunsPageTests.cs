using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Playwright;
using Npgsql;
using Platform.Dashboard.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Platform.Dashboard.Tests.Browser;

[Collection(DashboardCollection.Name)]
public sealed class RunsPageTests(DashboardFixture fixture)
{
    [Fact]
    public async Task RunsPage_EventSentWhileOpen_ShowsNewRunAndItsProgressWithoutReload()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/runs");
        await Expect(page.Locator("[data-live='on']")).ToBeVisibleAsync();
        // A full page load would drop this marker.
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");

        var orderId = "ord-" + Guid.NewGuid().ToString("N")[..8];
        var runId = await fixture.RunOfEventAsync(
            await fixture.SendEventAsync("shop/order.placed", new { orderId, sku = "SKU-1042", amount = 129.90, customerId = "cus_7" }));

        var row = page.Locator($"tr[data-run-id='{runId}']");
        await Expect(row).ToBeVisibleAsync();
        await Expect(row).ToHaveAttributeAsync("data-status", "Completed");
        await Expect(row).ToContainTextAsync("Checkout");
        await Expect(row).ToContainTextAsync("shop/order.placed");
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");

        // More runs, so the picture shows every kind of status.
        var sleeping = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/user.signup", new { email = "ada@example.com" }));
        var failed = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/inventory.sync", new { warehouse = "ams-1" }));
        var retried = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/payment.due", new { invoice = "inv-2291" }));
        await Expect(page.Locator($"tr[data-run-id='{sleeping}']")).ToHaveAttributeAsync("data-status", "Sleeping");
        await Expect(page.Locator($"tr[data-run-id='{failed}']")).ToHaveAttributeAsync("data-status", "Failed");
        await Expect(page.Locator($"tr[data-run-id='{retried}']")).ToHaveAttributeAsync("data-status", "Completed");
        await Expect(page.Locator("[data-status-tab='Failed'] [data-count]")).Not.ToHaveTextAsync("0");
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");
        await DashboardFixture.ScreenshotAsync(page, "runs", fullPage: false);
    }

    [Fact]
    public async Task RunsPage_StatusFilterInUrl_ListsOnlyRunsInThatStatus()
    {
        var failed = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/inventory.sync", new { warehouse = "filter" }));
        var completed = await fixture.RunOfEventAsync(
            await fixture.SendEventAsync("shop/order.placed", new { orderId = "ord-filter", sku = "SKU-1", amount = 1, customerId = "c" }));
        await fixture.WaitForRunStatusAsync(failed, "Failed");
        await fixture.WaitForRunStatusAsync(completed, "Completed");

        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/runs?status=Failed");

        await Expect(page.Locator($"tr[data-run-id='{failed}']")).ToBeVisibleAsync();
        await Expect(page.Locator($"tr[data-run-id='{completed}']")).ToHaveCountAsync(0);
        await Expect(page.Locator("[data-status-tab='Failed']")).ToHaveAttributeAsync("aria-current", "page");
        Assert.All(await page.Locator("tbody tr[data-status]").AllAsync(),
            row => Assert.Equal("Failed", row.GetAttributeAsync("data-status").GetAwaiter().GetResult()));
    }

    [Fact]
    public async Task RunsPage_MoreRunsThanAPage_OlderLinkPagesByCursorNewestFirst()
    {
        // One send of 51 events: 51 runs of a function that fails at once, one page and one row more.
        var batch = Enumerable.Range(0, 51).Select(i => new { name = "shop/inventory.sync", data = new { warehouse = $"page-{i}" } }).ToArray();
        using (var send = await fixture.Platform.Http.PostAsJsonAsync("/e/test-key", batch))
        {
            send.EnsureSuccessStatusCode();
        }

        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/runs?function=shop-sync-inventory");
        var rows = page.Locator("tbody tr[data-run-id]");
        await Expect(rows).ToHaveCountAsync(50);
        var newest = await rows.First.GetAttributeAsync("data-run-id");

        // Page once the circuit is up, as the other tests act: a click in the moment between the prerendered page and
        // the interactive one can leave the interactive page on the first page's query.
        await Expect(page.Locator("[data-live='on']")).ToBeVisibleAsync();
        await page.Locator("a[rel='next']").ClickAsync();

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"runs\?function=shop-sync-inventory&cursor=\w+$"));
        await Expect(page.Locator($"tbody tr[data-run-id='{newest}']")).ToHaveCountAsync(0);
        var older = await page.Locator("tbody tr[data-run-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.runId)");
        Assert.NotEmpty(older);
        Assert.True(string.CompareOrdinal(older[0], newest) < 0, "the older page starts below the first page");
        Assert.Equal(older.OrderByDescending(id => id, StringComparer.Ordinal), older);
        await Expect(page.Locator("a.button", new() { HasText = "Newest" })).ToHaveAttributeAsync("href", "runs?function=shop-sync-inventory");
    }

    [Fact]
    public async Task RunsPage_StatusChangedByAnotherProcess_RowUpdatesFromTheNotificationWithoutReload()
    {
        var runId = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/user.signup", new { email = "grace@example.com" }));
        await fixture.WaitForRunStatusAsync(runId, "Sleeping");
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/runs?app=shop");
        await Expect(page.Locator("[data-live='on'][data-mode='notify']")).ToContainTextAsync("Live");
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        var row = page.Locator($"tr[data-run-id='{runId}']");
        await Expect(row).ToHaveAttributeAsync("data-status", "Sleeping");

        // Another process ends the run: nothing in this process knows, only PostgreSQL's notification tells it.
        await using (var other = new NpgsqlConnection(fixture.Platform.ConnectionString))
        {
            await other.OpenAsync();
            await using var cancel = new NpgsqlCommand(
                "UPDATE platform.runs SET status = 'Cancelled', ended_at = now(), next_wake_at = NULL, version = version + 1 WHERE id = @id", other);
            cancel.Parameters.AddWithValue("id", runId);
            Assert.Equal(1, await cancel.ExecuteNonQueryAsync());
        }

        // The page polls only every ten minutes while live (see the fixture): the row can only change by notification.
        await Expect(row).ToHaveAttributeAsync("data-status", "Cancelled");
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");
    }

    [Fact]
    public async Task RunsPage_TimeRangeAndSearch_NarrowTheListAndLiveInTheUrl()
    {
        var wanted = "ord-" + Guid.NewGuid().ToString("N")[..10];
        var other = "ord-" + Guid.NewGuid().ToString("N")[..10];
        var hit = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/order.placed", new { orderId = wanted, sku = "SKU-7", amount = 12.5, customerId = "cus_9" }));
        var miss = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/order.placed", new { orderId = other, sku = "SKU-7", amount = 12.5, customerId = "cus_9" }));
        await fixture.WaitForRunStatusAsync(hit, "Completed");
        await fixture.WaitForRunStatusAsync(miss, "Completed");

        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/runs");
        // The interactive render replaces the prerendered form: fill it once the page is live.
        await Expect(page.Locator("[data-live='on']")).ToBeVisibleAsync();
        var now = DateTime.UtcNow;
        now = new DateTime(now.Year, now.Month, now.Day, now.Hour, now.Minute, 30, DateTimeKind.Utc); // seconds always written
        var from = now.AddHours(-1).ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        var to = now.AddHours(1).ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        await page.Locator("input[name='from']").FillAsync(from);
        await page.Locator("input[name='to']").FillAsync(to);
        await page.Locator("input[name='q']").FillAsync(wanted.ToUpperInvariant()); // case-insensitive
        await page.Locator("form.filters button[type='submit']").ClickAsync();

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"[?&]q={wanted.ToUpperInvariant()}(&|$)"));
        var url = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri(page.Url).Query);
        Assert.Equal(["from", "to", "q"], url.Keys); // the empty function and app fields stay out of the address
        Assert.True(DateTime.TryParse(url["from"], CultureInfo.InvariantCulture, out var fromInUrl), page.Url);
        Assert.True(DateTime.TryParse(url["to"], CultureInfo.InvariantCulture, out var toInUrl), page.Url);
        Assert.Equal((now.AddHours(-1), now.AddHours(1)), (DateTime.SpecifyKind(fromInUrl, DateTimeKind.Utc), DateTime.SpecifyKind(toInUrl, DateTimeKind.Utc)));
        await Expect(page.Locator($"tr[data-run-id='{hit}']")).ToBeVisibleAsync();
        await Expect(page.Locator($"tr[data-run-id='{miss}']")).ToHaveCountAsync(0);
        await Expect(page.Locator("tbody tr[data-run-id]")).ToHaveCountAsync(1);
        await Expect(page.Locator("input[name='q']")).ToHaveAttributeAsync("placeholder", "Text in the event's data or the run's output");
        await Expect(page.Locator("[data-search-note]")).ToContainTextAsync("newest runs that match the other filters");
        await Expect(page.Locator("[data-live='on']")).ToBeVisibleAsync();
        await DashboardFixture.ScreenshotAsync(page, "runs-filtered", fullPage: false);

        // A quick range keeps the search and replaces the window.
        await page.Locator("a[data-range='Last hour']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($@"runs\?from=[^&]+&q={wanted.ToUpperInvariant()}$"));
        await Expect(page.Locator($"tr[data-run-id='{hit}']")).ToBeVisibleAsync();

        // The same search in a window that ended before the runs were created finds nothing.
        var before = now.AddHours(-3).ToString("yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture);
        var earlier = now.AddHours(-2).ToString("yyyy-MM-ddTHH:mm", CultureInfo.InvariantCulture);
        await page.GotoAsync($"/runs?from={before}&to={earlier}&q={wanted}");
        await Expect(page.Locator("tbody tr[data-run-id]")).ToHaveCountAsync(0);
        await Expect(page.Locator("td.empty")).ToContainTextAsync("match these filters");
    }
}
