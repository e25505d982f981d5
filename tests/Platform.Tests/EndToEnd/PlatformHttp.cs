using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.EndToEnd;

/// <summary>What the end-to-end tests do over the platform's public HTTP API: send events, read runs.</summary>
public static class PlatformHttp
{
    public static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Sends one event with an explicit id; returns the platform's internal event id (the <c>ids</c> entry).</summary>
    public static async Task<string> SendEventAsync(HttpClient http, string name, object data, string id)
    {
        using var response = await http.PostAsJsonAsync("/e/test-key", new[] { new { name, data, id } });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /e/test-key answered {(int)response.StatusCode}: {text}");
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("ids")[0].GetString()!;
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path} answered {(int)response.StatusCode}: {text}");
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    /// <summary>The run of <paramref name="functionSlug"/> started by an event, found through <c>GET /api/v1/runs?function=</c>.</summary>
    public static async Task<string> RunIdOfEventAsync(HttpClient http, string functionSlug, string internalEventId)
    {
        var run = await Eventually.WaitAsync(
            async () =>
            {
                var page = await GetJsonAsync(http, $"/api/v1/runs?function={Uri.EscapeDataString(functionSlug)}&limit=200");
                return page.GetProperty("items").EnumerateArray()
                    .Where(r => r.GetProperty("eventId").GetString() == internalEventId)
                    .Select(r => r.GetProperty("id").GetString())
                    .FirstOrDefault();
            },
            id => id is not null,
            RunTimeout,
            $"a run of {functionSlug} for event {internalEventId}");
        return run!;
    }

    /// <summary>Polls <c>GET /api/v1/runs/{id}</c> until <paramref name="done"/> holds; returns that run.</summary>
    public static Task<JsonElement> WaitRunAsync(HttpClient http, string runId, Func<JsonElement, bool> done, string what) =>
        Eventually.WaitAsync(() => GetJsonAsync(http, $"/api/v1/runs/{runId}"), done, RunTimeout, $"run {runId} {what}");

    /// <summary>Waits until the run is Completed, Failed or Cancelled.</summary>
    public static Task<JsonElement> WaitFinalAsync(HttpClient http, string runId) =>
        WaitRunAsync(http, runId, r => IsFinal(r.GetProperty("status").GetString()), "to end");

    public static bool IsFinal(string? status) => status is "Completed" or "Failed" or "Cancelled";
}
