using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Security;

/// <summary>A production-mode platform whose failure limit is out of the way (G8 sends many wrong cookies on purpose).</summary>
public sealed class DashboardSecurityPlatform : IAsyncLifetime
{
    public PlatformApp Platform { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var settings = ProductionModeTests.Settings(ProductionModeTests.SigningKey);
        settings["Platform:Security:AuthFailuresPerMinute"] = "100000";
        Platform = await PlatformApp.StartAsync("dashsec", settings);
    }

    public async Task DisposeAsync() => await Platform.DisposeAsync();
}

/// <summary>
/// G8 (reliability.md §3): every dashboard page and action — the Razor pages, the Blazor hub, the form posts
/// (send event, re-sync, sign out) — is refused without a session, and every form post without a valid
/// antiforgery token is refused with 400 even with a session. Single tenant: there is no other tenant's session.
/// </summary>
public sealed partial class DashboardSecurityTests(DashboardSecurityPlatform fixture) : IClassFixture<DashboardSecurityPlatform>
{
    private PlatformApp Platform => fixture.Platform;

    private const string SessionCookie = global::Platform.Api.Security.PlatformAuthentication.CookieName;

    [Fact]
    public async Task EveryDashboardRouteAndAction_WithoutASession_IsRefused()
    {
        var pages = Platform.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.Any(m => m.GetType().Name == "ComponentTypeMetadata"))
            .Select(e => "/" + ParameterRegex().Replace(e.RoutePattern.RawText ?? "", "x").TrimStart('/'))
            .Distinct()
            .ToList();
        Assert.Superset(new HashSet<string> { "/", "/runs", "/runs/x", "/events", "/events/x", "/apps" }, pages.ToHashSet());

        using var anonymous = new DashboardBrowser(Platform);
        var formToken = await anonymous.FormTokenAsync("/login");
        var calls = pages.SelectMany(p => new (string Method, string Path, string? Form)[] { ("GET", p, null), ("POST", p, "_handler=x") })
            .Append(("POST", "/events", "_handler=send-event&Form.Name=test%2Fg8&Form.Data=%7B%7D"))
            .Append(("POST", "/apps", "_handler=resync-x"))
            .Append(("POST", "/runs/x", "_handler=cancel"))
            .Append(("POST", "/logout", ""))
            .Append(("GET", "/logout", null))
            .Append(("POST", "/_blazor/negotiate?negotiateVersion=1", null))
            .Append(("GET", "/_blazor?id=x", null))
            .Append(("POST", "/_blazor/disconnect", null))
            .Append(("GET", "/_blazor/initializers", null))
            .Append(("GET", "/_framework/blazor.web.js", null))
            .ToList();

        var successes = new List<string>();
        var requests = 0;
        foreach (var (method, path, form) in calls)
        {
            foreach (var credential in new[] { "none", "wrong cookie", "wrong bearer", "antiforgery token only" })
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                if (form is not null)
                {
                    var body = credential == "antiforgery token only" ? $"{form}&__RequestVerificationToken={Uri.EscapeDataString(formToken)}" : form;
                    request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");
                }

                if (credential == "wrong cookie")
                {
                    request.Headers.TryAddWithoutValidation("Cookie", $"{SessionCookie}=api-token-pro");
                }
                else if (credential == "wrong bearer")
                {
                    request.Headers.TryAddWithoutValidation("Authorization", "Bearer api-token-pro");
                }

                // A fresh client each time: the anonymous browser's antiforgery cookie goes with "antiforgery token only".
                using var response = credential == "antiforgery token only" ? await anonymous.Http.SendAsync(request) : await Platform.Http.SendAsync(request);
                requests++;
                if (response.StatusCode != HttpStatusCode.Unauthorized)
                {
                    successes.Add($"{method} {path} ({credential}) → {(int)response.StatusCode}");
                }
            }
        }

        Assert.Empty(successes);
        Assert.Equal(0, await Platform.ScalarAsync<long>("SELECT count(*) FROM platform.events WHERE name = 'test/g8'"));
        Console.WriteLine($"G8: {requests} dashboard requests without a valid session ({calls.Count} routes × 4 credential variants); unauthorized successes 0.");
    }

    [Fact]
    public async Task FormPosts_SessionWithoutAValidAntiforgeryToken_Return400AndChangeNothing()
    {
        using var browser = new DashboardBrowser(Platform);
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.SignInAsync(ProductionModeTests.ApiToken)).StatusCode);
        using var other = new DashboardBrowser(Platform);
        var otherToken = await other.FormTokenAsync("/login");
        var eventsBefore = await Platform.ScalarAsync<long>("SELECT count(*) FROM platform.events WHERE name = 'test/g8-csrf'");

        var statuses = new Dictionary<string, HttpStatusCode>();
        foreach (var (name, token) in new[] { ("no token", (string?)null), ("another browser's token", otherToken), ("garbled token", "CfDJ8garbled") })
        {
            var extra = token is null ? [] : new KeyValuePair<string, string>[] { new("__RequestVerificationToken", token) };
            using var send = await browser.PostFormAsync("/events", [new("_handler", "send-event"), new("Form.Name", "test/g8-csrf"), new("Form.Data", "{}"), .. extra]);
            using var resync = await browser.PostFormAsync("/apps", [new("_handler", "resync-nope"), .. extra]);
            using var logout = await browser.PostFormAsync("/logout", extra);
            using var login = await browser.PostFormAsync("/login", [new("token", ProductionModeTests.ApiToken), .. extra]);
            statuses[$"send event, {name}"] = send.StatusCode;
            statuses[$"re-sync, {name}"] = resync.StatusCode;
            statuses[$"sign out, {name}"] = logout.StatusCode;
            statuses[$"sign in, {name}"] = login.StatusCode;
        }

        Assert.All(statuses, s => Assert.True(s.Value == HttpStatusCode.BadRequest, $"{s.Key} → {(int)s.Value}"));
        Assert.Equal(eventsBefore, await Platform.ScalarAsync<long>("SELECT count(*) FROM platform.events WHERE name = 'test/g8-csrf'"));
        using var stillSignedIn = await browser.Http.GetAsync("/events");
        Assert.Equal(HttpStatusCode.OK, stillSignedIn.StatusCode);
        Console.WriteLine($"G8: {statuses.Count} form posts with a session but without a valid antiforgery token; all 400, nothing stored.");
    }

    [Fact]
    public async Task SendEventForm_SessionAndToken_IsAccepted()
    {
        // The control for the test above: the same post with the page's own token goes through.
        using var browser = new DashboardBrowser(Platform);
        await browser.SignInAsync(ProductionModeTests.ApiToken);
        var token = await browser.FormTokenAsync("/events");

        using var send = await browser.PostFormAsync("/events", [new("_handler", "send-event"), new("Form.Name", "test/g8-ok"), new("Form.Data", "{}"), new("__RequestVerificationToken", token)]);

        Assert.Equal(HttpStatusCode.OK, send.StatusCode);
        Assert.Equal(1, await Platform.ScalarAsync<long>("SELECT count(*) FROM platform.events WHERE name = 'test/g8-ok'"));
    }

    [Fact]
    public async Task SignOut_WithTheLayoutsToken_ClearsTheSession()
    {
        using var browser = new DashboardBrowser(Platform);
        await browser.SignInAsync(ProductionModeTests.ApiToken);
        using var page = await browser.Http.GetAsync("/apps");
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("action=\"/logout\"", html, StringComparison.Ordinal);
        var token = await browser.FormTokenAsync("/apps");

        using var logout = await browser.PostFormAsync("/logout", [new("__RequestVerificationToken", token)]);
        using var after = await browser.Http.GetAsync("/apps");

        Assert.Equal(HttpStatusCode.SeeOther, logout.StatusCode);
        Assert.Equal("/login", logout.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex ParameterRegex();
}
