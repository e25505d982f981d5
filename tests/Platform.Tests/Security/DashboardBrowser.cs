using System.Net;
using System.Text.RegularExpressions;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Security;

/// <summary>A cookie-keeping HTTP client that behaves like a browser on the dashboard: reads forms' antiforgery tokens, signs in.</summary>
public sealed partial class DashboardBrowser : IDisposable
{
    private readonly HttpClientHandler _handler;

    public DashboardBrowser(PlatformApp platform)
    {
        _handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true };
        Http = new HttpClient(_handler) { BaseAddress = new Uri(platform.BaseUrl) };
    }

    public HttpClient Http { get; }

    public CookieContainer Cookies => _handler.CookieContainer;

    /// <summary>The antiforgery token of the first form on the page at <paramref name="path"/> (the sign-in form when signed out).</summary>
    public async Task<string> FormTokenAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        var match = TokenRegex().Match(html);
        Assert.True(match.Success, $"no antiforgery token on {path} ({(int)response.StatusCode})");
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    /// <summary>Posts the sign-in form as a browser would (with the token the form carries).</summary>
    public async Task<HttpResponseMessage> SignInAsync(string apiToken) =>
        await PostFormAsync("/login", [new("token", apiToken), new("__RequestVerificationToken", await FormTokenAsync("/login"))]);

    public Task<HttpResponseMessage> PostFormAsync(string path, IEnumerable<KeyValuePair<string, string>> fields) =>
        Http.PostAsync(path, new FormUrlEncodedContent(fields));

    public void Dispose()
    {
        Http.Dispose();
        _handler.Dispose();
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenRegex();
}
