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
}
