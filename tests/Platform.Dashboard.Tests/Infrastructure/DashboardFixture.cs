using Platform.Tests.Infrastructure;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;

namespace Platform.Dashboard.Tests.Infrastructure;

/// <summary>
/// One platform, one app it calls (<see cref="ShopApp"/>, synced) and one headless Chromium, shared by the tests of
/// the <c>dashboard</c> collection (a platform start costs seconds; each test works on its own events and runs).
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    /// <summary>Debian's Chromium; Playwright is never allowed to download a browser of its own.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public PlatformApp Platform { get; private set; } = default!;

    public ShopApp Shop { get; private set; } = default!;

    public IBrowser Browser { get; private set; } = default!;

    /// <summary>Where the tests save a screenshot of each page (under bin/, git-ignored).</summary>
    public static string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException(
                $"The browser tests need Debian's Chromium at {ChromiumPath}: apt-get update && apt-get install -y chromium");
        }

        Platform = await PlatformApp.StartAsync("dashboard", new Dictionary<string, string?>
        {
            ["Executor:RetryMaxDelay"] = "00:00:01",
            ["Executor:WorkerCount"] = "2",
            // While notifications flow, pages re-read only on them: a change that shows up proves the notification.
            ["Dashboard:LiveInterval"] = "00:10:00",
        });
        Shop = await ShopApp.StartAsync(Platform.BaseUrl);
        using (var sync = await Platform.Http.PostAsJsonAsync("/api/v1/apps/sync", new { url = Shop.Url }))
        {
            if (!sync.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"Syncing the test app failed: {(int)sync.StatusCode} {await sync.Content.ReadAsStringAsync()}");
            }
        }

        Assertions.SetDefaultExpectTimeout(20_000);
        _playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        Directory.CreateDirectory(ScreenshotDirectory);
    }

    /// <summary>A fresh browser context (own cookies) with a page on the platform's origin.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = Platform.BaseUrl,
            ViewportSize = new ViewportSize { Width = 1360, Height = 900 },
            ColorScheme = ColorScheme.Light,
        });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    /// <summary>Saves <c>screenshots/{name}.png</c>: the whole page, or only the window for long lists.</summary>
    public static async Task ScreenshotAsync(IPage page, string name, bool fullPage = true) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = fullPage });

    /// <summary>Sends one event through the event API; returns our id of it.</summary>
    public async Task<string> SendEventAsync(string name, object data)
    {
        using var response = await Platform.Http.PostAsJsonAsync("/e/test-key", new { name, data });
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("ids")[0].GetString()!;
    }

    /// <summary>The run an event started, once the API lists it.</summary>
    public async Task<string> RunOfEventAsync(string eventId) =>
        await Eventually.ValueAsync(async () =>
        {
            var runs = await Platform.Http.GetFromJsonAsync<JsonElement>($"/api/v1/events/{eventId}/runs");
            return runs.GetArrayLength() > 0 ? runs[0].GetProperty("id").GetString() : null;
        }, TimeSpan.FromSeconds(20), $"a run of event {eventId}");

    /// <summary>Waits until the API reports the run in <paramref name="status"/>.</summary>
    public async Task WaitForRunStatusAsync(string runId, string status) =>
        await Eventually.WaitAsync(async () => await RunStatusAsync(runId) == status, TimeSpan.FromSeconds(30), $"run {runId} to be {status}");

    public async Task<string?> RunStatusAsync(string runId)
    {
        var run = await Platform.Http.GetFromJsonAsync<JsonElement>($"/api/v1/runs/{runId}");
        return run.GetProperty("status").GetString();
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (Shop is not null)
        {
            await Shop.DisposeAsync();
        }

        if (Platform is not null)
        {
            await Platform.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardFixture>
{
    public const string Name = "dashboard";
}
