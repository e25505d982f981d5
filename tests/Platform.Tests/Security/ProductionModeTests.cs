using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Platform.Executor.Security;
using Platform.Tests.Infrastructure;
using Platform.Tests.Integration;

namespace Platform.Tests.Security;

/// <summary>A production-mode platform (keys configured): reliability.md §3 G1, G2, G4, G5 and G7 over real HTTP.</summary>
public sealed partial class ProductionModeTests : IAsyncLifetime
{
    internal const string SigningKey = "signkey-prod-00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    internal const string FallbackKey = "signkey-prod-ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    internal const string EventKey = "event-key-prod";
    internal const string ApiToken = "api-token-prod";
    private PlatformApp _platform = null!;

    public static Dictionary<string, string?> Settings(string signingKey, string? fallback = null) => new()
    {
        ["Platform:SigningKey"] = signingKey,
        ["Platform:SigningKeyFallback"] = fallback,
        ["Platform:EventKeys:0"] = EventKey,
        ["Platform:ApiToken"] = ApiToken,
        // The test apps (WireMock, the Node SDK app) listen on 127.0.0.1: production mode refuses loopback app URLs
        // unless allowlisted, and a loopback entry needs the explicit switch (AppNetworkPolicy).
        ["Platform:Security:AllowedAppNetworks:0"] = "127.0.0.1",
        ["Platform:Security:AllowLoopbackApps"] = "true",
    };

    public async Task InitializeAsync() => _platform = await PlatformApp.StartAsync("prodmode", Settings(SigningKey, FallbackKey));

    public async Task DisposeAsync() => await _platform.DisposeAsync();

    [Fact]
    public async Task Register_NoBearer_Returns401AndStoresNothing()
    {
        var reply = await RegisterAsync(_platform, bearer: null);

        Assert.Equal(HttpStatusCode.Unauthorized, reply.Status);
        Assert.Equal(0, await _platform.ScalarAsync<long>("SELECT count(*) FROM platform.apps"));
    }

    [Fact]
    public async Task Register_BearerWithOneBitFlipped_Returns401()
    {
        var token = SigningKeys.BearerToken(SigningKey);
        var flipped = token[..^1] + (char)(token[^1] ^ 1);

        var reply = await RegisterAsync(_platform, flipped);

        Assert.Equal(HttpStatusCode.Unauthorized, reply.Status);
    }

    [Theory]
    [InlineData(SigningKey, true)]
    [InlineData(SigningKey, false)]
    [InlineData(FallbackKey, true)]
    public async Task Register_PrimaryOrFallbackPlainOrHashed_Accepted(string key, bool hashed)
    {
        var reply = await RegisterAsync(_platform, hashed ? SigningKeys.BearerToken(key) : key);

        Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());
    }

    [Fact]
    public async Task Register_FallbackAfterRotationRemovedIt_Returns401()
    {
        // G5: the old key is accepted only while it is configured as the fallback.
        await using var rotated = await PlatformApp.StartAsync("prodrotated", Settings(FallbackKey));

        Assert.Equal(HttpStatusCode.Unauthorized, (await RegisterAsync(rotated, SigningKeys.BearerToken(SigningKey))).Status);
        Assert.Equal(HttpStatusCode.OK, (await RegisterAsync(rotated, SigningKeys.BearerToken(FallbackKey))).Status);
    }

    [Fact]
    public async Task SendEvent_WrongEventKey_Returns401AndStoresNothing()
    {
        var wrong = await Tests.Integration.Api.PostAsync(_platform, "/e/event-key-pro", """{"name":"test/hello","data":{}}""");
        var right = await Tests.Integration.Api.PostAsync(_platform, $"/e/{EventKey}", """{"name":"test/hello","data":{}}""");

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Status);
        Assert.Equal("""{"status":401,"error":"Event key not found"}""", wrong.Text);
        Assert.Equal(HttpStatusCode.OK, right.Status);
        Assert.Equal(1, await _platform.ScalarAsync<long>("SELECT count(*) FROM platform.events"));
    }

    [Fact]
    public async Task ManagementApi_BearerApiToken_RequiredAndAccepted()
    {
        using var without = await _platform.Http.GetAsync("/api/v1/apps");
        using var wrong = await Send(HttpMethod.Get, "/api/v1/apps", "Bearer api-token-pro");
        using var right = await Send(HttpMethod.Get, "/api/v1/apps", $"Bearer {ApiToken}");

        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, right.StatusCode);
    }

    [Fact]
    public async Task Login_ApiToken_SetsACookieThatOpensTheDashboard()
    {
        using var browser = new DashboardBrowser(_platform);

        using var before = await browser.Http.GetAsync("/");
        var token = await browser.FormTokenAsync("/login");
        using var wrong = await browser.PostFormAsync("/login", [new("token", "nope"), new("__RequestVerificationToken", token)]);
        using var login = await browser.SignInAsync(ApiToken);
        using var after = await browser.Http.GetAsync("/");

        Assert.Equal(HttpStatusCode.Unauthorized, before.StatusCode);
        Assert.Contains("<form method=\"post\" action=\"/login\">", await before.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.SeeOther, login.StatusCode);
        var setCookie = string.Join(";", login.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("max-age=43200", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(ApiToken, setCookie, StringComparison.Ordinal); // the session is not the token
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Session_TamperedForgedOrTheTokenItself_Refused()
    {
        using var browser = new DashboardBrowser(_platform);
        using var login = await browser.SignInAsync(ApiToken);
        var issued = login.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0])
            .Single(c => c.StartsWith(Platform.Api.Security.PlatformAuthentication.CookieName + "=", StringComparison.Ordinal))
            .Split('=', 2)[1];
        var (expires, mac) = (issued.Split('.')[0], issued.Split('.')[1]);
        var later = (long.Parse(expires, System.Globalization.CultureInfo.InvariantCulture) + 86_400).ToString(System.Globalization.CultureInfo.InvariantCulture);

        var verdicts = new Dictionary<string, HttpStatusCode>();
        foreach (var (name, value) in new[]
        {
            ("issued", issued),
            ("expiry pushed back a day", $"{later}.{mac}"),
            ("one MAC character changed", $"{expires}.{(mac[0] == 'A' ? 'B' : 'A')}{mac[1..]}"),
            ("the API token itself", ApiToken),
            ("MAC of another deployment", new Platform.Api.Security.DashboardSession(
                Platform.Executor.Security.PlatformKeys.FromConfiguration(Microsoft.Extensions.Configuration.MemoryConfigurationBuilderExtensions.AddInMemoryCollection(new Microsoft.Extensions.Configuration.ConfigurationBuilder(),
                    Settings(FallbackKey)).Build()), TimeProvider.System).Issue()),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/runs");
            request.Headers.TryAddWithoutValidation("Cookie", $"{Platform.Api.Security.PlatformAuthentication.CookieName}={value}");
            using var response = await _platform.Http.SendAsync(request);
            verdicts[name] = response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, verdicts["issued"]);
        Assert.All(verdicts.Where(v => v.Key != "issued"), v => Assert.Equal(HttpStatusCode.Unauthorized, v.Value));
    }

    [Fact]
    public async Task EveryEndpoint_WithoutCredentials_OnlyHealthAnswers()
    {
        // G7: every route the app maps (API, register, events, dashboard pages, static assets), plus Swagger.
        var calls = _platform.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Method: m, Path: Path(e))))
            .Append((Method: "GET", Path: "/swagger/index.html"))
            .Append((Method: "GET", Path: "/swagger/v1/swagger.json"))
            .Distinct()
            .ToList();
        Assert.Contains(calls, c => c.Path == "/api/v1/runs/x/cancel");
        Assert.Contains(calls, c => c.Path == "/fn/register");

        var open = new List<string>();
        foreach (var (method, path) in calls)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method is "POST" or "PUT" or "PATCH")
            {
                request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
            }

            using var response = await _platform.Http.SendAsync(request);
            if (response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden))
            {
                open.Add($"{method} {path} → {(int)response.StatusCode}");
            }
        }

        Assert.Equal(["GET /health → 200"], open);
        Console.WriteLine($"G7: {calls.Count} endpoint/method pairs called without credentials; only /health answered.");
    }

    internal static async Task<Reply> RegisterAsync(PlatformApp platform, string? bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/fn/register")
        {
            Content = new StringContent(Tests.Integration.Api.SyncPayload("prod-app", Tests.Integration.Api.UnreachableAppUrl(), new FunctionSpec("fn", """{"event":"test/hello"}""")), Encoding.UTF8, "application/json"),
        };
        if (bearer is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {bearer}");
        }

        using var response = await platform.Http.SendAsync(request);
        return new Reply(response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> Send(HttpMethod method, string path, string authorization)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return _platform.Http.SendAsync(request);
    }

    private static string Path(RouteEndpoint endpoint)
    {
        var path = ParameterRegex().Replace(endpoint.RoutePattern.RawText ?? "/", "x");
        return path.StartsWith('/') ? path : "/" + path;
    }

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex ParameterRegex();
}
