using Microsoft.Playwright;
using Platform.Dashboard.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Platform.Dashboard.Tests.Browser;

[Collection(DashboardCollection.Name)]
public sealed class RunPageTests(DashboardFixture fixture)
{
    [Fact]
    public async Task RunPage_CompletedTwoStepRun_ShowsEachStepWithOutputAndTimeline()
    {
        var eventId = await fixture.SendEventAsync("shop/order.placed", new { orderId = "ord-4711", sku = "SKU-2001", amount = 59.5, customerId = "cus_1" });
        var runId = await fixture.RunOfEventAsync(eventId);
        await fixture.WaitForRunStatusAsync(runId, "Completed");

        var page = await fixture.NewPageAsync();
        await page.GotoAsync($"/runs/{runId}");

        await Expect(page.Locator("[data-field='status']")).ToContainTextAsync("Completed");
        var steps = page.Locator("li.step");
        await Expect(steps).ToHaveCountAsync(2);
        await Expect(steps.Nth(0)).ToHaveAttributeAsync("data-step", "reserve-stock");
        await Expect(steps.Nth(1)).ToHaveAttributeAsync("data-step", "charge-card");

        var reserve = page.Locator("li.step[data-step='reserve-stock']");
        await Expect(reserve).ToHaveAttributeAsync("data-step-status", "Completed");
        await Expect(reserve.Locator("pre.json")).ToContainTextAsync("\"reserved\": true");
        await Expect(reserve.Locator("[data-field='idempotency-key']")).ToHaveTextAsync($"{runId}:{ShopApp.StepId("reserve-stock")}");
        var charge = page.Locator("li.step[data-step='charge-card']");
        await Expect(charge.Locator("pre.json")).ToContainTextAsync("\"chargeId\": \"ch_ord-4711\"");

        await Expect(page.Locator(".result pre.json")).ToContainTextAsync("\"status\": \"paid\"");
        await Expect(page.Locator(".timeline [data-bar]")).ToHaveCountAsync(3); // the run and its two steps
        await Expect(page.GetByText("SKU-2001").First).ToBeVisibleAsync(); // the triggering event's data
        await DashboardFixture.ScreenshotAsync(page, "run");
    }

    [Fact]
    public async Task RunPage_StepThatFailedOnce_ShowsTheFailedAttemptWithItsError()
    {
        var runId = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/payment.due", new { invoice = "inv-1001" }));
        await fixture.WaitForRunStatusAsync(runId, "Completed");

        var page = await fixture.NewPageAsync();
        await page.GotoAsync($"/runs/{runId}");

        var capture = page.Locator("li.step[data-step='capture']");
        await Expect(capture).ToHaveAttributeAsync("data-step-status", "Completed");
        await Expect(capture).ToContainTextAsync("2 attempts");
        await Expect(capture.Locator("details.attempts summary")).ToHaveTextAsync("Failed attempts (1)");
        await Expect(capture.Locator("[data-attempt='1']")).ToContainTextAsync("GatewayTimeoutError: The payment gateway did not answer within 5 s");
        await Expect(capture.Locator("pre.json").First).ToContainTextAsync("\"captured\": true");
        await Expect(page.Locator(".timeline [data-bar] .mark")).ToHaveCountAsync(1);
        await DashboardFixture.ScreenshotAsync(page, "run-retried");
    }

    [Fact]
    public async Task RunPage_FailedRun_ShowsTheErrorWithItsStack()
    {
        var runId = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/inventory.sync", new { warehouse = "ams-2" }));
        await fixture.WaitForRunStatusAsync(runId, "Failed");

        var page = await fixture.NewPageAsync();
        await page.GotoAsync($"/runs/{runId}");

        await Expect(page.Locator("[data-field='status']")).ToContainTextAsync("Failed");
        await Expect(page.Locator(".result")).ToContainTextAsync("InventoryApiError: The inventory API answered 503 Service Unavailable");
        await Expect(page.Locator(".result pre.stack")).ToContainTextAsync("at handler (shop/functions.ts:42:11)");
        await Expect(page.Locator("[data-action='cancel']")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task RunPage_CancelSleepingRun_StatusChangesToCancelledLive()
    {
        var runId = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/user.signup", new { email = "grace@example.com" }));

        var page = await fixture.NewPageAsync();
        await page.GotoAsync($"/runs/{runId}");
        await Expect(page.Locator("[data-live='on']")).ToBeVisibleAsync();
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");

        // The page follows the run into its sleep without a reload.
        await Expect(page.Locator("[data-field='status'] [data-status]")).ToHaveAttributeAsync("data-status", "Sleeping");
        var sleep = page.Locator("li.step[data-step='wait-a-day']");
        await Expect(sleep).ToHaveAttributeAsync("data-step-status", "Sleeping");
        await Expect(page.Locator("li.step[data-step='send-welcome'] pre.json")).ToContainTextAsync("\"template\": \"welcome\"");
        await DashboardFixture.ScreenshotAsync(page, "run-sleeping");

        await page.Locator("[data-action='cancel']").ClickAsync();
        await page.Locator("[data-action='confirm-cancel']").ClickAsync();

        await Expect(page.Locator("[data-field='status'] [data-status]")).ToHaveAttributeAsync("data-status", "Cancelled");
        await Expect(page.Locator("[data-action='cancel']")).ToHaveCountAsync(0);
        Assert.Equal("Cancelled", await fixture.RunStatusAsync(runId));
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "the page was reloaded");
    }
}
