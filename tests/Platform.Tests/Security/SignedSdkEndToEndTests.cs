using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Platform.Executor.Security;
using Platform.Tests.EndToEnd;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Security;

/// <summary>
/// The real <c>inngest</c> SDK in cloud mode against a production-mode platform: the sync PUT and every call are
/// signed by us and verified by the SDK; the SDK's register bearer and event key are verified by us.
/// </summary>
public sealed class SignedSdkEndToEndTests(ITestOutputHelper output)
{
    private const string ManualCall = """{"ctx":{"attempt":0,"run_id":"01HMANUAL"},"event":{"data":{"x":1},"name":"test/two-steps"},"events":[{"data":{"x":1},"name":"test/two-steps"}],"steps":{}}""";

    [Fact]
    public async Task TwoSteps_CloudModeSdk_SignedRunCompletes()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"platform-e2e-signed-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        InngestNodeApp.EnsureInstalled();
        await using var platform = await PlatformApp.StartAsync("e2e_signed", ProductionModeTests.Settings(ProductionModeTests.SigningKey));
        using var app = await InngestNodeApp.StartAsync(platform.BaseUrl, Path.Combine(directory, "exec.log"), new Dictionary<string, string>
        {
            ["INNGEST_DEV"] = "0",
            ["INNGEST_SIGNING_KEY"] = ProductionModeTests.SigningKey,
            ["INNGEST_EVENT_KEY"] = ProductionModeTests.EventKey,
        });
        using var api = new HttpClient { BaseAddress = new Uri(platform.BaseUrl) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ProductionModeTests.ApiToken);
        try
        {
            // G1/G2 on the app side: the SDK refuses an unsigned call and one whose signature has one bit flipped,
            // and accepts the same body signed by our signer.
            var signature = new RequestSigner(SigningKeysTests.Keys(ProductionModeTests.SigningKey), TimeProvider.System).Prepare(Encoding.UTF8.GetBytes(ManualCall)).Signature!;
            Assert.Equal(HttpStatusCode.Unauthorized, await CallAppAsync(app, signature: null));
            Assert.Equal(HttpStatusCode.Unauthorized, await CallAppAsync(app, signature[..^1] + (char)(signature[^1] ^ 1)));
            Assert.Contains(await CallAppAsync(app, signature), new[] { HttpStatusCode.OK, HttpStatusCode.PartialContent });

            // G3: a replay outside the SDK's 300 s window, in the past or the future, is refused.
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var body = Encoding.UTF8.GetBytes(ManualCall);
            Assert.Equal(HttpStatusCode.Unauthorized, await CallAppAsync(app, SigningKeys.Signature(ProductionModeTests.SigningKey, body, now - 330)));
            Assert.Equal(HttpStatusCode.Unauthorized, await CallAppAsync(app, SigningKeys.Signature(ProductionModeTests.SigningKey, body, now + 330)));

            // Sync through the platform: our signed PUT, then the SDK's POST /fn/register with its bearer.
            using var sync = await api.PostAsJsonAsync("/api/v1/apps/sync", new { url = app.ServeUrl });
            var syncText = await sync.Content.ReadAsStringAsync();
            Assert.True(sync.StatusCode == HttpStatusCode.OK, $"sync answered {(int)sync.StatusCode}: {syncText}\n{app.Tail()}");

            using var sent = await api.PostAsJsonAsync($"/e/{ProductionModeTests.EventKey}", new[] { new { name = "test/two-steps", data = new { x = 1 }, id = $"signed-{Guid.NewGuid():N}" } });
            var sentText = await sent.Content.ReadAsStringAsync();
            Assert.True(sent.StatusCode == HttpStatusCode.OK, $"event answered {(int)sent.StatusCode}: {sentText}");
            using var ids = JsonDocument.Parse(sentText);
            var runId = await PlatformHttp.RunIdOfEventAsync(api, $"{InngestNodeApp.AppId}-two-steps", ids.RootElement.GetProperty("ids")[0].GetString()!);
            var run = await PlatformHttp.WaitFinalAsync(api, runId);

            Assert.Equal("Completed", run.GetProperty("status").GetString());
            Assert.Equal("A:1|B", run.GetProperty("output").GetProperty("b").GetString());
            Assert.Equal(["a", "b"], app.ReadExecLog().Where(e => e.RunId == runId).Select(e => e.Step).ToArray());
        }
        catch
        {
            output.WriteLine($"Node app output:\n{app.Tail()}");
            throw;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<HttpStatusCode> CallAppAsync(InngestNodeApp app, string? signature)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{app.ServeUrl}?fnId={InngestNodeApp.AppId}-two-steps&stepId=step")
        {
            Content = new StringContent(ManualCall, Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("X-Inngest-Server-Kind", "cloud");
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Inngest-Signature", signature);
        }

        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }
}
