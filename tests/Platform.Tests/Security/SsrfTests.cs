using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.Options;
using Platform.Executor;
using Platform.Executor.Apps;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;
using Platform.Executor.Security;
using Platform.Tests.Infrastructure;
using Platform.Tests.Integration;
using WireMock.RequestBuilders;
using WireMock.ResponseBuilders;
using WireMock.Server;
using WireMock.Settings;

namespace Platform.Tests.Security;

/// <summary>A production-mode platform with no allowlist: the one every G9 case is registered against.</summary>
public sealed class SsrfPlatform : IAsyncLifetime
{
    public PlatformApp Platform { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var settings = ProductionModeTests.Settings(ProductionModeTests.SigningKey);
        settings.Remove("Platform:Security:AllowedAppNetworks:0");
        settings.Remove("Platform:Security:AllowLoopbackApps");
        Platform = await PlatformApp.StartAsync("ssrf", settings);
    }

    public async Task DisposeAsync() => await Platform.DisposeAsync();
}

/// <summary>
/// G9 (reliability.md §3) over real HTTP: app URLs pointing inside are refused at registration, at
/// <c>/api/v1/apps/sync</c> and again at connection time; redirects are never followed; a loopback allowlist
/// entry without the explicit switch stops the platform from starting.
/// </summary>
public sealed class SsrfTests(SsrfPlatform fixture) : IClassFixture<SsrfPlatform>
{
    private static readonly string s_bearer = SigningKeys.BearerToken(ProductionModeTests.SigningKey);

    [Theory]
    [MemberData(nameof(AppNetworkPolicyTests.InternalUrls), MemberType = typeof(AppNetworkPolicyTests))]
    public async Task Register_InternalAppUrl_Returns400AndStoresNothing(string url)
    {
        var reply = await RegisterAsync(Tests.Integration.Api.SyncPayload($"ssrf-{Guid.NewGuid():N}", url, new FunctionSpec("fn", """{"event":"test/ssrf"}""")));

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Contains("blocked: ", reply.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("Platform:Security:AllowedAppNetworks", reply.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(0, await fixture.Platform.ScalarAsync<long>("SELECT count(*) FROM platform.apps"));
    }

    [Fact]
    public async Task Register_PublicAppUrlWithInternalStepUrl_Returns400()
    {
        // The app URL is a public literal; the function's own runtime URL points at the metadata service.
        var payload = Tests.Integration.Api.SyncPayload("ssrf-step", "https://8.8.8.8/api/inngest", new FunctionSpec("fn", """{"event":"test/ssrf"}"""))
            .Replace("https://8.8.8.8/api/inngest?fnId", "http://169.254.169.254/latest?fnId", StringComparison.Ordinal);

        var reply = await RegisterAsync(payload);

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.StartsWith("functions: http://169.254.169.254/latest: blocked: ", reply.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_PublicAppUrl_Accepted()
    {
        var reply = await RegisterAsync(Tests.Integration.Api.SyncPayload("ssrf-public", "https://8.8.8.8/api/inngest", new FunctionSpec("fn", """{"event":"test/ssrf"}""")));

        Assert.True(reply.Status == HttpStatusCode.OK, reply.ToString());
    }

    [Fact]
    public async Task ApiSync_HostNameOfLoopback_Returns400AndTheAppIsNeverCalled()
    {
        using var app = StartServer(HttpStatusCode.OK);
        using var api = new HttpClient { BaseAddress = new Uri(fixture.Platform.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new("Bearer", ProductionModeTests.ApiToken);

        using var byName = await api.PostAsJsonAsync("/api/v1/apps/sync", new { url = $"http://localhost:{app.Port}/api/inngest" });
        using var byDecimal = await api.PostAsJsonAsync("/api/v1/apps/sync", new { url = $"http://2130706433:{app.Port}/api/inngest" });

        Assert.Equal(HttpStatusCode.BadRequest, byName.StatusCode);
        Assert.Contains("blocked: 'localhost' resolves to", await byName.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, byDecimal.StatusCode);
        Assert.Empty(app.LogEntries);
    }

    [Fact]
    public async Task CallAsync_NameResolvingToLoopbackAtCallTime_RefusedBeforeConnecting()
    {
        // A URL that passed registration but whose name now resolves inside (DNS rebinding): the connect callback
        // resolves again, refuses, and never opens a connection.
        using var app = StartServer(HttpStatusCode.OK);
        var caller = Caller(AppNetworkPolicyTests.Enforced());

        var outcome = await caller.CallAsync($"http://localhost:{app.Port}/api/inngest", "fn", "01HRUN", "step", Encoding.UTF8.GetBytes("{}"), CancellationToken.None);

        var failed = Assert.IsType<CallFailed>(outcome);
        using var error = System.Text.Json.JsonDocument.Parse(failed.ErrorJson);
        Assert.Contains("blocked: 'localhost' resolves to", error.RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Null(failed.StatusCode);
        Assert.Empty(app.LogEntries);
    }

    [Fact]
    public async Task CallAsync_AllowlistedLoopback_ConnectsToTheCheckedAddress()
    {
        using var app = StartServer(HttpStatusCode.OK);
        var caller = Caller(LoopbackAllowed());

        var outcome = await caller.CallAsync($"http://127.0.0.1:{app.Port}/api/inngest", "fn", "01HRUN", "step", Encoding.UTF8.GetBytes("{}"), CancellationToken.None);

        Assert.IsNotType<CallFailed>(outcome);
        Assert.Single(app.LogEntries);
    }

    [Theory]
    [InlineData(HttpStatusCode.Found)]
    [InlineData(HttpStatusCode.TemporaryRedirect)]
    public async Task CallAsync_RedirectToAnInternalAddress_IsNotFollowed(HttpStatusCode status)
    {
        using var target = StartServer(HttpStatusCode.OK);
        using var app = StartServer(status, location: $"http://127.0.0.1:{target.Port}/api/inngest");
        var caller = Caller(LoopbackAllowed());

        var outcome = await caller.CallAsync($"http://127.0.0.1:{app.Port}/api/inngest", "fn", "01HRUN", "step", Encoding.UTF8.GetBytes("{}"), CancellationToken.None);

        var failed = Assert.IsType<CallFailed>(outcome);
        Assert.Equal((int)status, failed.StatusCode);
        Assert.Single(app.LogEntries);
        Assert.Empty(target.LogEntries);
    }

    [Fact]
    public async Task RequestSyncAsync_RedirectToAnInternalAddress_IsNotFollowed()
    {
        using var target = StartServer(HttpStatusCode.OK);
        using var app = StartServer(HttpStatusCode.Found, location: $"http://127.0.0.1:{target.Port}/api/inngest");
        var client = new AppSyncClient(new HttpClient(LoopbackAllowed().CreateHandler()), new RequestSigner(SigningKeysTests.Keys(ProductionModeTests.SigningKey), TimeProvider.System));

        var (status, _) = await client.RequestSyncAsync($"http://127.0.0.1:{app.Port}/api/inngest", CancellationToken.None);

        Assert.Equal(302, status);
        Assert.Empty(target.LogEntries);
    }

    [Fact]
    public async Task StartAsync_LoopbackAllowlistedWithoutTheSwitch_RefusesToStart()
    {
        var settings = ProductionModeTests.Settings(ProductionModeTests.SigningKey);
        settings.Remove("Platform:Security:AllowLoopbackApps");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => PlatformApp.StartAsync("ssrfstart", settings));

        var messages = string.Join(" | ", Flatten(error).Select(e => e.Message));
        Assert.Contains("AllowLoopbackApps", messages, StringComparison.Ordinal);
    }

    private async Task<Reply> RegisterAsync(string payload)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/fn/register") { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {s_bearer}");
        using var response = await fixture.Platform.Http.SendAsync(request);
        return new Reply(response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static AppNetworkPolicy LoopbackAllowed() =>
        AppNetworkPolicyTests.Enforced(("Platform:Security:AllowedAppNetworks:0", "127.0.0.1"), ("Platform:Security:AllowLoopbackApps", "true"));

    private static AppCaller Caller(AppNetworkPolicy policy) =>
        new(new HttpClient(policy.CreateHandler()), Options.Create(new ExecutorOptions { HttpTimeout = TimeSpan.FromSeconds(5) }),
            new RequestSigner(SigningKeysTests.Keys(ProductionModeTests.SigningKey), TimeProvider.System));

    private static WireMockServer StartServer(HttpStatusCode status, string? location = null)
    {
        var server = WireMockServer.Start(new WireMockServerSettings { Urls = [$"http://127.0.0.1:{PlatformApp.FreePort()}"], StartAdminInterface = false });
        var response = Response.Create().WithStatusCode(status).WithHeader("Content-Type", "application/json").WithHeader("X-Inngest-Sdk", "js:v4.24.0").WithBody("\"done\"");
        if (location is not null)
        {
            response = response.WithHeader("Location", location);
        }

        server.Given(Request.Create().UsingAnyMethod()).RespondWith(response);
        return server;
    }

    private static IEnumerable<Exception> Flatten(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
