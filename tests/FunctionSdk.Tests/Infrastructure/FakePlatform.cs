using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FunctionSdk.Tests.Infrastructure;

/// <summary>A request the fake platform received.</summary>
public sealed record ReceivedRequest(string Path, string Query, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>
/// A stand-in for the platform on a real Kestrel port on 127.0.0.1: answers <c>/fn/register</c> and
/// <c>/e/{key}</c> with whatever the test sets, and records every request.
/// </summary>
public sealed class FakePlatform : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakePlatform(WebApplication app) => _app = app;

    public string Url { get; private set; } = "";

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    public Func<ReceivedRequest, (int Status, string Body)> Register { get; set; } =
        _ => (200, """{"ok":true,"modified":true}""");

    public Func<ReceivedRequest, (int Status, string Body)> Events { get; set; } = request =>
    {
        var count = System.Text.Json.JsonDocument.Parse(request.Body).RootElement.GetArrayLength();
        var ids = string.Join(",", Enumerable.Range(0, count).Select(i => $"\"01HFAKEEVENTID00000000000{i}\""));
        return (200, $$"""{"ids":[{{ids}}],"status":200}""");
    };

    public IEnumerable<ReceivedRequest> To(string pathPrefix) => Requests.Where(r => r.Path.StartsWith(pathPrefix, StringComparison.Ordinal));

    public static async Task<FakePlatform> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var platform = new FakePlatform(app);
        app.MapPost("/fn/register", (HttpContext http) => platform.AnswerAsync(http, platform.Register));
        app.MapPost("/e/{key}", (HttpContext http) => platform.AnswerAsync(http, platform.Events));
        await app.StartAsync();
        platform.Url = app.Urls.Single();
        return platform;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task AnswerAsync(HttpContext http, Func<ReceivedRequest, (int Status, string Body)> answer)
    {
        using var reader = new StreamReader(http.Request.Body);
        var received = new ReceivedRequest(
            http.Request.Path,
            http.Request.QueryString.Value ?? "",
            http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            await reader.ReadToEndAsync());
        Requests.Enqueue(received);
        var (status, body) = answer(received);
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(body);
    }
}
