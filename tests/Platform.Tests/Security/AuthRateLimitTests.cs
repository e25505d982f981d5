using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Platform.Api.Security;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Security;

/// <summary>Failed sign-ins and wrong tokens are rate-limited per client address (10 a minute by default): 429 with Retry-After.</summary>
public sealed class AuthRateLimitTests
{
    [Fact]
    public async Task SignIn_ElevenWrongTokens_ThenEvenTheRightTokenGets429UntilTheWindowEnds()
    {
        await using var platform = await PlatformApp.StartAsync("ratelimit", ProductionModeTests.Settings(ProductionModeTests.SigningKey));
        using var browser = new DashboardBrowser(platform);
        var token = await browser.FormTokenAsync("/login");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < AuthFailureLimiter.DefaultMaxFailures + 1; i++)
        {
            using var wrong = await browser.PostFormAsync("/login", [new("token", $"guess-{i}"), new("__RequestVerificationToken", token)]);
            statuses.Add(wrong.StatusCode);
        }

        using var right = await browser.PostFormAsync("/login", [new("token", ProductionModeTests.ApiToken), new("__RequestVerificationToken", token)]);
        using var api = new HttpRequestMessage(HttpMethod.Get, "/api/v1/apps") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", ProductionModeTests.ApiToken) } };
        using var apiReply = await platform.Http.SendAsync(api);
        using var health = await platform.Http.GetAsync("/health");
        using var otherAddress = OtherLoopbackClient(platform.BaseUrl);
        using var fromElsewhere = await otherAddress.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/v1/apps") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", ProductionModeTests.ApiToken) } });

        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Unauthorized, 10).Append(HttpStatusCode.TooManyRequests), statuses);
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        var retryAfter = right.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value.TotalSeconds, 1, 60);
        Assert.Equal(HttpStatusCode.TooManyRequests, apiReply.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fromElsewhere.StatusCode);
        Console.WriteLine($"Rate limit: 10 wrong sign-ins → 401, the 11th and the right token → 429, Retry-After {retryAfter.Value.TotalSeconds} s; 127.0.0.2 unaffected.");
    }

    [Fact]
    public async Task Requests_WithoutCredentials_AreNotCountedAsFailures()
    {
        await using var platform = await PlatformApp.StartAsync("ratelimitfree", ProductionModeTests.Settings(ProductionModeTests.SigningKey));

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 25; i++)
        {
            using var reply = await platform.Http.GetAsync("/api/v1/apps");
            statuses.Add(reply.StatusCode);
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Unauthorized, s));
    }

    [Fact]
    public void AuthFailureLimiter_WindowPassed_AllowsAgainAndCountsPerAddress()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var limiter = new AuthFailureLimiter(3, TimeSpan.FromMinutes(1), time);
        var a = IPAddress.Parse("203.0.113.7");

        for (var i = 0; i < 3; i++)
        {
            Assert.Null(limiter.RetryAfter(a));
            limiter.RecordFailure(a);
            time.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(TimeSpan.FromSeconds(30), limiter.RetryAfter(a));
        Assert.Equal(TimeSpan.FromSeconds(30), limiter.RetryAfter(IPAddress.Parse("::ffff:203.0.113.7")));
        Assert.Null(limiter.RetryAfter(IPAddress.Parse("203.0.113.8")));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Null(limiter.RetryAfter(a));
        limiter.RecordFailure(a);
        Assert.Null(limiter.RetryAfter(a));
    }

    /// <summary>A client whose connections come from 127.0.0.2: another address as far as the platform can tell.</summary>
    private static HttpClient OtherLoopbackClient(string baseUrl) =>
        new(new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                await socket.ConnectAsync(IPAddress.Loopback, context.DnsEndPoint.Port, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        { BaseAddress = new Uri(baseUrl) };
}
