using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Protocol;
using FunctionSdk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;

namespace FunctionSdk.Tests.Endpoint;

/// <summary>With a signing key every GET and POST must be signed (protocol.md §5.2); replies are signed.</summary>
public sealed class SignedEndpointTests : IAsyncLifetime
{
    private const string Key = "signkey-test-ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34";
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _app = await SdkApp.StartAsync(
            o => o.SigningKey = Key,
            functions => functions.AddFunction<JsonElement>(
                "hello", (ctx, _) => Task.FromResult<object?>(new { hi = ctx.Run.RunId }), o => o.OnEvent("test/hello")));
        _client = _app.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Post_Unsigned_401()
    {
        var response = await _client.PostAsync($"{SdkApp.Path}?fnId=test-app-hello&stepId=step", Json(CallBuilder.For("test/hello").Body().ToJsonString()));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("""{"message":"Unauthorized"}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Post_SignedOverCanonicalBody_RunsAndSignsTheReply()
    {
        var body = CallBuilder.For("test/hello").Run("01HSIGNED").Body().ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{SdkApp.Path}?fnId=test-app-hello&stepId=step") { Content = Json(body) };
        request.Headers.Add("X-Inngest-Signature", Signatures.Sign(Jcs.Canonicalize(Encoding.UTF8.GetBytes(body)), Key, DateTimeOffset.UtcNow));

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reply = await response.Content.ReadAsStringAsync();
        Assert.Equal("""{"hi":"01HSIGNED"}""", reply);
        var signature = response.Headers.GetValues("X-Inngest-Signature").Single();
        Assert.True(Signatures.Verify(signature, Encoding.UTF8.GetBytes(reply), Key, DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task Post_SignatureTooOld_401()
    {
        var body = CallBuilder.For("test/hello").Body().ToJsonString();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{SdkApp.Path}?fnId=test-app-hello&stepId=step") { Content = Json(body) };
        request.Headers.Add("X-Inngest-Signature", Signatures.Sign(Jcs.Canonicalize(Encoding.UTF8.GetBytes(body)), Key, DateTimeOffset.UtcNow.AddMinutes(-6)));

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Get_Unsigned_401()
    {
        var response = await _client.GetAsync(SdkApp.Path);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Get_Signed_AuthenticatedIntrospectionWithKeyHash()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, SdkApp.Path);
        request.Headers.Add("X-Inngest-Signature", Signatures.Sign("", Key, DateTimeOffset.UtcNow));

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("cloud", body["mode"]!.ToString());
        Assert.True(body["authentication_succeeded"]!.GetValue<bool>());
        // protocol.md §5.3: the first 12 hex characters of the hashed probe key.
        Assert.Equal("f936c15b3f88", body["signing_key_hash"]!.ToString());
        Assert.Equal("test-app", body["app_id"]!.ToString());
    }

    [Fact]
    public async Task Post_TrustProbeSigned_200Empty()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{SdkApp.Path}?probe=trust");
        request.Headers.Add("X-Inngest-Signature", Signatures.Sign("", Key, DateTimeOffset.UtcNow));

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
