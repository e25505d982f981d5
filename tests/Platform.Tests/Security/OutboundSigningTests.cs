using System.Net;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Platform.Executor;
using Platform.Executor.Apps;
using Platform.Executor.Runs;
using Platform.Executor.Security;

namespace Platform.Tests.Security;

/// <summary>Outgoing calls and sync PUTs: JCS bytes on the wire, signed over exactly those bytes, server kind cloud.</summary>
public sealed class OutboundSigningTests
{
    private const string Key = "signkey-test-ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34ab12cd34";
    private static readonly FakeTimeProvider s_time = new(DateTimeOffset.FromUnixTimeSeconds(1700000000));

    [Fact]
    public async Task CallAsync_ProductionMode_SendsJcsBodySignedWithThePrimaryKey()
    {
        var handler = new CapturingHandler();
        var caller = new AppCaller(new HttpClient(handler), Options.Create(new ExecutorOptions()), new RequestSigner(SigningKeysTests.Keys(Key), s_time));
        var body = CallRequestBuilder.Build("01HRUN", new WorkItem { Kind = WorkKind.Discovery, StepId = WorkItem.DiscoveryStepId, DueAt = s_time.GetUtcNow() }, 4, false, CallRequestBuilder.EventJson("test/hello", """{"b":1.50,"a":"é<"}""", "01HEVT", 1700000000000, null, null), []);

        await caller.CallAsync("http://127.0.0.1:1/api/inngest", "fn", "01HRUN", "step", body, CancellationToken.None);

        var sent = Encoding.UTF8.GetString(handler.Body!);
        Assert.Equal(Jcs.Canonicalize(Encoding.UTF8.GetString(body)), sent);
        Assert.Contains("\"data\":{\"a\":\"é<\",\"b\":1.5}", sent, StringComparison.Ordinal);
        Assert.Equal(SigningKeys.Signature(Key, handler.Body!, 1700000000), handler.Header("X-Inngest-Signature"));
        Assert.Equal("cloud", handler.Header("X-Inngest-Server-Kind"));
    }

    [Fact]
    public async Task CallAsync_DevMode_SendsTheBuiltBytesUnsigned()
    {
        var handler = new CapturingHandler();
        var caller = new AppCaller(new HttpClient(handler), Options.Create(new ExecutorOptions()), new RequestSigner(PlatformKeys.Dev, s_time));
        var body = Encoding.UTF8.GetBytes("""{"ctx":{"run_id":"01HRUN"}, "version":-1}""");

        await caller.CallAsync("http://127.0.0.1:1/api/inngest", "fn", "01HRUN", "step", body, CancellationToken.None);

        Assert.Equal(body, handler.Body);
        Assert.Null(handler.Header("X-Inngest-Signature"));
        Assert.Equal("dev", handler.Header("X-Inngest-Server-Kind"));
    }

    [Fact]
    public async Task RequestSyncAsync_ProductionMode_SignsThePut()
    {
        var handler = new CapturingHandler();
        var client = new AppSyncClient(new HttpClient(handler), new RequestSigner(SigningKeysTests.Keys(Key), s_time));

        await client.RequestSyncAsync("http://127.0.0.1:1/api/inngest?x=<y>", CancellationToken.None);

        Assert.Equal(HttpMethod.Put, handler.Method);
        Assert.Equal("""{"url":"http://127.0.0.1:1/api/inngest?x=<y>"}""", Encoding.UTF8.GetString(handler.Body!));
        Assert.Equal(SigningKeys.Signature(Key, handler.Body!, 1700000000), handler.Header("X-Inngest-Signature"));
        Assert.Equal("cloud", handler.Header("X-Inngest-Server-Kind"));
    }

    private sealed class CapturingHandler : HttpMessageHandler
    {
        private HttpRequestMessage? _request;

        public byte[]? Body { get; private set; }

        public HttpMethod? Method => _request?.Method;

        public string? Header(string name) => _request!.Headers.TryGetValues(name, out var values) ? values.Single() : null;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _request = request;
            Body = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("\"done\"", Encoding.UTF8, "application/json") };
        }
    }
}
