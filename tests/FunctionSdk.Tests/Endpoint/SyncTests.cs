using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Protocol;
using FunctionSdk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;

namespace FunctionSdk.Tests.Endpoint;

/// <summary>App sync: PUT asks the app to register itself (protocol.md §6); the app also syncs on start.</summary>
public sealed class SyncTests : IAsyncLifetime
{
    private FakePlatform _platform = null!;

    public async Task InitializeAsync() => _platform = await FakePlatform.StartAsync();

    public async Task DisposeAsync() => await _platform.DisposeAsync();

    [Fact]
    public async Task Put_RegistersFunctionsWithPlatformAndRelaysReply()
    {
        await using var app = await StartAppAsync(o => o.ServeUrl = "http://orders.test:8080/api/durable");
        using var client = app.GetTestClient();

        var response = await client.PutAsync(SdkApp.Path, null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("out_of_band", response.Headers.GetValues("X-Inngest-Sync-Kind").Single());
        Assert.Equal("""{"message":"Successfully registered","modified":true}""", await response.Content.ReadAsStringAsync());

        var register = Assert.Single(_platform.To("/fn/register"));
        Assert.Equal(SdkInfo.Header, register.Headers["X-Inngest-Sdk"]);
        Assert.Equal("out_of_band", register.Headers["X-Inngest-Sync-Kind"]);
        Assert.False(register.Headers.ContainsKey("Authorization"));
        var body = JsonNode.Parse(register.Body)!;
        Assert.Equal("http://orders.test:8080/api/durable", body["url"]!.ToString());
        Assert.Equal(("ping", "test-app", "dotnet:v0.1.0", "0.1"),
            (body["deployType"]!.ToString(), body["appName"]!.ToString(), body["sdk"]!.ToString(), body["v"]!.ToString()));

        var functions = body["functions"]!.AsArray();
        Assert.Equal(["test-app-greet", "test-app-nightly"], functions.Select(f => f!["id"]!.ToString()));
        var greet = functions[0]!;
        Assert.Equal("Greet someone", greet["name"]!.ToString());
        Assert.Equal("""[{"event":"test/greet"}]""", greet["triggers"]!.ToJsonString());
        Assert.Equal(
            """{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://orders.test:8080/api/durable?fnId=test-app-greet&stepId=step"},"retries":{"attempts":2}}}""",
            greet["steps"]!.ToJsonString(Wire.Options));
        var nightly = functions[1]!;
        Assert.Equal("nightly", nightly["name"]!.ToString());
        Assert.Equal("""[{"cron":"TZ=Europe/Paris 0 3 * * *"},{"event":"shop/order.placed","expression":"event.data.amount > 100"}]""", nightly["triggers"]!.ToJsonString(Wire.Options));
        Assert.Null(nightly["steps"]!["step"]!["retries"]);
    }

    [Fact]
    public async Task Put_WithoutServeUrl_AdvertisesTheRequestUrlAndForwardsDeployIdAndServerKind()
    {
        await using var app = await StartAppAsync(_ => { });
        using var client = app.GetTestClient();
        using var request = new HttpRequestMessage(HttpMethod.Put, $"{SdkApp.Path}?deployId=dep-1");
        request.Headers.Add("X-Inngest-Server-Kind", "dev");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var register = Assert.Single(_platform.To("/fn/register"));
        Assert.Equal("?deployId=dep-1", register.Query);
        Assert.Equal("dev", register.Headers["X-Inngest-Expected-Server-Kind"]);
        var body = JsonNode.Parse(register.Body)!;
        Assert.Equal("http://localhost/api/durable?deployId=dep-1", body["url"]!.ToString());
        Assert.Equal("dep-1", body["deployId"]!.ToString());
    }

    [Fact]
    public async Task Put_PlatformRejects_RelaysStatusFromBody()
    {
        _platform.Register = _ => (400, """{"error":"At least one function is invalid","status":400}""");
        await using var app = await StartAppAsync(_ => { });
        using var client = app.GetTestClient();

        var response = await client.PutAsync(SdkApp.Path, null);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("""{"message":"At least one function is invalid","modified":false}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Put_PlatformAnswersNonJson_500WithStatusInMessage()
    {
        _platform.Register = _ => (502, "<html>bad gateway</html>");
        await using var app = await StartAppAsync(_ => { });
        using var client = app.GetTestClient();

        var response = await client.PutAsync(SdkApp.Path, null);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("status code: 502", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_PlatformUnreachable_500SaysSo()
    {
        await using var app = await StartAppAsync(o => o.PlatformUrl = "http://127.0.0.1:1");
        using var client = app.GetTestClient();

        var response = await client.PutAsync(SdkApp.Path, null);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("could not be reached", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Put_WithSigningKey_SendsBearerToken()
    {
        await using var app = await StartAppAsync(o => o.SigningKey = "signkey-prod-12345678");
        using var client = app.GetTestClient();

        await client.PutAsync(SdkApp.Path, null);

        Assert.Equal(
            "Bearer signkey-prod-b2ed992186a5cb19f6668aade821f502c1d00970dfd0e35128d51bac4649916c",
            Assert.Single(_platform.To("/fn/register")).Headers["Authorization"]);
    }

    [Fact]
    public async Task Start_SyncOnStart_RegistersListeningAddressAndRetriesUntilAccepted()
    {
        var answers = 0;
        _platform.Register = _ => Interlocked.Increment(ref answers) <= 2
            ? (503, """{"error":"starting up","status":503}""")
            : (200, """{"ok":true,"modified":false}""");

        await using var app = await StartAppAsync(o => o.SyncOnStart = true, kestrel: true);
        await Eventually.WaitAsync(() => Volatile.Read(ref answers) >= 3, TimeSpan.FromSeconds(10), "three register attempts");

        var registers = _platform.To("/fn/register").ToList();
        Assert.Equal(3, registers.Count);
        var port = new Uri(app.Urls.Single()).Port;
        Assert.All(registers, r => Assert.Equal($"http://127.0.0.1:{port}/api/durable", JsonNode.Parse(r.Body)!["url"]!.ToString()));
    }

    private Task<WebApplication> StartAppAsync(Action<DurableFunctionsOptions> options, bool kestrel = false) =>
        SdkApp.StartAsync(
            o =>
            {
                o.PlatformUrl = _platform.Url;
                options(o);
            },
            functions => functions
                .AddFunction<Greeting>()
                .AddFunction<JsonElement>("nightly", (_, _) => Task.FromResult<object?>(null), o => o
                    .OnCron("TZ=Europe/Paris 0 3 * * *")
                    .OnEvent("shop/order.placed", "event.data.amount > 100")),
            kestrel,
            services => Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton(services, new Greeter("Hi")));
}
