using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Platform.Dashboard.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Platform.Dashboard.Tests.Browser;

[Collection(DashboardCollection.Name)]
public sealed class RunPageTests(DashboardFixture fixture)
{
    [Fact]
    public async Task RunPage_UnknownRun_Answers404WithTheNotFoundPageInTheLayout()
    {
        using var response = await fixture.Platform.Http.GetAsync("/runs/01NOSUCHRUN0000000000000000");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("Nothing is at this address", await response.Content.ReadAsStringAsync());

        var page = await fixture.NewPageAsync();
        var navigation = await page.GotoAsync("/runs/01NOSUCHRUN0000000000000000");
        Assert.Equal(404, navigation!.Status);
        await Expect(page.Locator("h1")).ToHaveTextAsync("Not found");
        await Expect(page.Locator("nav a[href='runs']").First).ToBeVisibleAsync(); // within the layout
    }

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

    [Fact]
    public async Task RunPage_RerunFromSecondStep_OpensTheNewRunWhichCompletesWithTheFirstStepReused()
    {
        var original = await fixture.RunOfEventAsync(await fixture.SendEventAsync("shop/order.placed", new { orderId = "ord-5150", sku = "SKU-3003", amount = 12, customerId = "cus_2" }));
        await fixture.WaitForRunStatusAsync(original, "Completed");

        var page = await fixture.NewPageAsync();
        await page.GotoAsync($"/runs/{original}");
        await Expect(page.Locator("[data-live='on']")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-action='rerun-from']")).ToHaveCountAsync(2); // one per stored step

        await page.Locator("li.step[data-step='charge-card'] [data-action='rerun-from']").ClickAsync();

        // The new run's page, linking back to the original and the step it started from.
        await Expect(page).ToHaveURLAsync(new Regex("/runs/(?!" + original + ")[0-9A-Z]{26}$"));
        var rerun = page.Url[(page.Url.LastIndexOf('/') + 1)..];
        Assert.NotEqual(original, rerun);
        await Expect(page.Locator("[data-run-id]")).ToHaveAttributeAsync("data-run-id", rerun);
        await Expect(page.Locator("[data-field='rerun-of']")).ToContainTextAsync($"Rerun of {original} from step charge-card");
        await Expect(page.Locator("[data-field='status'] [data-status]")).ToHaveAttributeAsync("data-status", "Completed");
        var reserve = page.Locator("li.step[data-step='reserve-stock']");
        await Expect(reserve.Locator($"[data-copied-from='{original}']")).ToContainTextAsync("reused from");
        await Expect(reserve.Locator("pre.json")).ToContainTextAsync("\"reserved\": true");
        var charge = page.Locator("li.step[data-step='charge-card']");
        await Expect(charge).ToHaveAttributeAsync("data-step-status", "Completed");
        await Expect(charge.Locator("[data-copied-from]")).ToHaveCountAsync(0);
        await Expect(charge.Locator("pre.json")).ToContainTextAsync("\"chargeId\": \"ch_ord-5150\"");
        await Expect(page.Locator(".result pre.json")).ToContainTextAsync("\"status\": \"paid\"");
        await Expect(page.Locator(".timeline [data-bar]")).ToHaveCountAsync(2); // the run and the one step it executed
        await DashboardFixture.ScreenshotAsync(page, "run-rerun");

        // Not executed again: the rerun holds the original's row of reserve-stock (same completion, before the rerun existed).
        var first = await fixture.Platform.Http.GetFromJsonAsync<JsonElement>($"/api/v1/runs/{original}");
        var second = await fixture.Platform.Http.GetFromJsonAsync<JsonElement>($"/api/v1/runs/{rerun}");
        var before = first.GetProperty("steps")[0].GetProperty("completedAt").GetDateTimeOffset();
        Assert.Equal(before, second.GetProperty("steps")[0].GetProperty("completedAt").GetDateTimeOffset());
        Assert.True(before < second.GetProperty("createdAt").GetDateTimeOffset());
        Assert.True(second.GetProperty("steps")[1].GetProperty("startedAt").GetDateTimeOffset() > second.GetProperty("createdAt").GetDateTimeOffset());

        // Back to the original: it lists its rerun; a plain Rerun runs every step again.
        await page.Locator("[data-field='rerun-of'] a").ClickAsync();
        await Expect(page.Locator($"[data-field='reruns'] a[href='runs/{rerun}']")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-live='on']")).ToBeVisibleAsync();
        await page.Locator("[data-action='rerun']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/runs/(?!" + original + ")(?!" + rerun + ")[0-9A-Z]{26}$"));
        await Expect(page.Locator("[data-field='rerun-of']")).ToContainTextAsync("every step ran again");
        await Expect(page.Locator("[data-field='status'] [data-status]")).ToHaveAttributeAsync("data-status", "Completed");
        await Expect(page.Locator("li.step")).ToHaveCountAsync(2);
        await Expect(page.Locator("li.step [data-copied-from]")).ToHaveCountAsync(0);
    }
}
