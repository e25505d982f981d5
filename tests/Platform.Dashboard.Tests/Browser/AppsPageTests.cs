using Microsoft.Playwright;
using Platform.Dashboard.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Platform.Dashboard.Tests.Browser;

[Collection(DashboardCollection.Name)]
public sealed class AppsPageTests(DashboardFixture fixture)
{
    [Fact]
    public async Task AppsPage_Resync_AsksTheAppToSyncAndShowsTheOutcome()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/apps");

        var app = page.Locator($"[data-app='{ShopApp.AppName}']");
        await Expect(app).ToContainTextAsync(fixture.Shop.Url);
        await Expect(app.Locator("[data-field='function-count']")).ToHaveTextAsync("4");
        var checkout = app.Locator("tr[data-function='shop-checkout']");
        await Expect(checkout).ToContainTextAsync("shop/order.placed");
        await Expect(checkout).ToContainTextAsync("3 (4 attempts)");
        await Expect(checkout).ToContainTextAsync("concurrency");
        await Expect(app.Locator("tr[data-function='shop-sync-inventory']")).ToContainTextAsync("0 (1 attempt)");

        var syncsBefore = fixture.Shop.SyncCount;
        await app.Locator("[data-action='resync']").ClickAsync();

        await Expect(page.Locator("[data-sync-result='ok']")).ToContainTextAsync("Re-synced shop: the app answered HTTP 200");
        Assert.Equal(syncsBefore + 1, fixture.Shop.SyncCount);
        await Expect(app.Locator("[data-field='synced-at']")).ToHaveTextAsync("just now");
        await DashboardFixture.ScreenshotAsync(page, "apps");
    }

    [Fact]
    public async Task AppsPage_RunsOfTheLastHour_ShowsCountsFailureRateAndAppHealth()
    {
        var failed = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/inventory.sync", new { warehouse = "apps-page" }));
        var completed = await fixture.RunOfEventAsync(
            await fixture.SendEventAsync("shop/order.placed", new { orderId = "ord-apps", sku = "SKU-1", amount = 1, customerId = "c" }));
        await fixture.WaitForRunStatusAsync(failed, "Failed");
        await fixture.WaitForRunStatusAsync(completed, "Completed");

        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/apps");

        var app = page.Locator($"[data-app='{ShopApp.AppName}']");
        // sync-inventory fails every run (no retries): its failure rate is 100 % in both windows.
        var sync = app.Locator("tr[data-function='shop-sync-inventory']");
        await Expect(sync.Locator("[data-field='last-hour'] [data-failure-rate]")).ToHaveAttributeAsync("data-failure-rate", "1");
        await Expect(sync.Locator("[data-field='last-hour']")).ToContainTextAsync("100% failed");
        await Expect(sync.Locator("[data-field='last-day'] [data-failure-rate]")).ToHaveAttributeAsync("data-failure-rate", "1");
        var checkoutRuns = await app.Locator("tr[data-function='shop-checkout'] [data-field='last-hour'] [data-runs]").GetAttributeAsync("data-runs");
        Assert.True(long.Parse(checkoutRuns!, System.Globalization.CultureInfo.InvariantCulture) >= 1, $"checkout runs in the last hour: {checkoutRuns}");
        // The app's latest call: either the failed sync (its error shown) or a later completed run.
        var health = app.Locator("[data-field='health']");
        await Expect(health).ToHaveAttributeAsync("data-health", new System.Text.RegularExpressions.Regex("^(ok|failing)$"));
        if (await health.GetAttributeAsync("data-health") == "failing")
        {
            await Expect(health).ToContainTextAsync("Failed");
        }
    }
}
