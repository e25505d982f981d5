using System.Net.Http.Json;
using Microsoft.Playwright;
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

        await page.Locator("a[rel='next']").ClickAsync();

        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"runs\?function=shop-sync-inventory&cursor=\w+$"));
        await Expect(page.Locator($"tbody tr[data-run-id='{newest}']")).ToHaveCountAsync(0);
        var older = await page.Locator("tbody tr[data-run-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.runId)");
        Assert.NotEmpty(older);
        Assert.True(string.CompareOrdinal(older[0], newest) < 0, "the older page starts below the first page");
        Assert.Equal(older.OrderByDescending(id => id, StringComparer.Ordinal), older);
        await Expect(page.Locator("a.button", new() { HasText = "Newest" })).ToHaveAttributeAsync("href", "runs?function=shop-sync-inventory");
    }
}
