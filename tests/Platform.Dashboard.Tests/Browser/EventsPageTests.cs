using System.Net;
using Microsoft.Playwright;
using Platform.Dashboard.Tests.Infrastructure;
using static Microsoft.Playwright.Assertions;

namespace Platform.Dashboard.Tests.Browser;

[Collection(DashboardCollection.Name)]
public sealed class EventsPageTests(DashboardFixture fixture)
{
    [Fact]
    public async Task EventsPage_SendTestEvent_ShowsItsIdLinkingToTheEventAndItsRun()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/events");
        var orderId = "ord-form-" + Guid.NewGuid().ToString("N")[..6];
        await page.FillAsync("#event-name", "shop/order.placed");
        await page.FillAsync("#event-data", $$"""{ "orderId": "{{orderId}}", "sku": "SKU-3300", "amount": 18, "customerId": "cus_9" }""");
        await page.ClickAsync("button[type='submit']");

        var sent = page.Locator("[data-sent-event]");
        await Expect(sent).ToContainTextAsync("it started 1 run");
        var eventId = await sent.GetAttributeAsync("data-sent-event");
        Assert.False(string.IsNullOrEmpty(eventId));
        await Expect(page.Locator($"tr[data-event-id='{eventId}']")).ToBeVisibleAsync();
        using (var stored = await fixture.Platform.Http.GetAsync($"/api/v1/events/{eventId}"))
        {
            Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        }

        await DashboardFixture.ScreenshotAsync(page, "events", fullPage: false);

        await sent.Locator("a").ClickAsync();
        await Expect(page).ToHaveURLAsync($"{fixture.Platform.BaseUrl}/events/{eventId}");
        await Expect(page.Locator("pre.json")).ToContainTextAsync($"\"orderId\": \"{orderId}\"");
        var runId = await fixture.RunOfEventAsync(eventId!);
        await Expect(page.Locator($"tr[data-run-id='{runId}']")).ToContainTextAsync("Checkout");
        await DashboardFixture.ScreenshotAsync(page, "event");
    }

    [Fact]
    public async Task EventsPage_SendWithInvalidJsonAndNoName_ShowsErrorsNextToTheFieldsAndSendsNothing()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/events");
        await page.FillAsync("#event-name", "");
        await page.FillAsync("#event-data", """{ "orderId": """);
        await page.ClickAsync("button[type='submit']");

        await Expect(page.Locator("[data-error-for='data']")).ToContainTextAsync("Not valid JSON");
        await Expect(page.Locator("[data-error-for='name']")).ToContainTextAsync("Required");
        await Expect(page.Locator("#event-data")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page.Locator("[data-sent-event]")).ToHaveCountAsync(0);
        // What was typed stays, so it can be fixed.
        await Expect(page.Locator("#event-data")).ToHaveValueAsync("""{ "orderId": """);

        await page.FillAsync("#event-name", "shop/order.placed");
        await page.FillAsync("#event-data", """["not", "an", "object"]""");
        await page.ClickAsync("button[type='submit']");
        await Expect(page.Locator("[data-error-for='data']")).ToContainTextAsync("Expected a JSON object");
        await Expect(page.Locator("[data-error-for='name']")).ToHaveCountAsync(0);
        await DashboardFixture.ScreenshotAsync(page, "events-invalid");
    }
}
