using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Parity;

/// <summary>Function idempotency (<c>idempotency</c>: a CEL key): at most one run per key per 24 hours.</summary>
[Collection(ParityCollection.Name)]
public sealed class IdempotencyTests(ExecutorPlatform fixture)
{
    [Fact]
    public async Task Idempotency_EventsSharingAKey_OneRunPerKey()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "idem", retries: 0,
            call => AppReply.Complete(call.Event.GetProperty("data").GetRawText()),
            (_, f) => f["idempotency"] = "event.data.user");

        await SendAsync(app, new { user = "a", n = 1 });
        await SendAsync(app, new { user = "a", n = 2 });
        await SendAsync(app, new { user = "b", n = 3 });
        // Two events with one key in a single send: the first gets the run.
        await SendAsync(app, new { user = "c", n = 4 }, new { user = "c", n = 5 });
        // No key (the field is missing): not limited.
        await SendAsync(app, new { n = 6 });
        await SendAsync(app, new { n = 7 });

        var outputs = await Eventually.WaitAsync(() => CompletedOutputsAsync(app), o => o.Count >= 5, ExecutorPlatform.RunTimeout, "five runs to complete");
        Assert.Equal([1, 3, 4, 6, 7], outputs.Select(o => o.GetProperty("n").GetInt32()).Order());
        Assert.Equal(5L, await RunCountAsync(app));
        Assert.Empty(app.ScriptErrors);
    }

    [Fact]
    public async Task Idempotency_KeyWindowExpired_AnotherRunGoesThrough()
    {
        await using var app = await FakeApp.StartAsync(fixture.Platform, "idem-expiry", retries: 0,
            _ => AppReply.Complete("true"),
            (_, f) => f["idempotency"] = "event.data.user + '-' + string(event.data.region)");

        await SendAsync(app, new { user = "a", region = 1 });
        await SendAsync(app, new { user = "a", region = 1 });
        await Eventually.WaitAsync(() => RunCountAsync(app), n => n == 1, ExecutorPlatform.RunTimeout, "the first run");

        // The 24-hour window ends (moved into the past by hand).
        await fixture.Platform.ScalarAsync<long>("""
            WITH moved AS (UPDATE platform.idempotency_keys k SET expires_at = now() - interval '1 second'
                             FROM platform.functions f WHERE f.id = k.function_id AND f.slug = @slug RETURNING 1)
            SELECT count(*) FROM moved
            """, ("slug", app.Slug));
        await SendAsync(app, new { user = "a", region = 1 });

        Assert.Equal(2L, await Eventually.WaitAsync(() => RunCountAsync(app), n => n == 2, ExecutorPlatform.RunTimeout, "a second run after the window"));
        await SendAsync(app, new { user = "a", region = 1 });
        await SendAsync(app, new { user = "a", region = 2 });
        Assert.Equal(3L, await Eventually.WaitAsync(() => RunCountAsync(app), n => n == 3, ExecutorPlatform.RunTimeout, "a run for the other region"));
    }

    private async Task SendAsync(FakeApp app, params object[] data)
    {
        using var response = await fixture.Platform.Http.PostAsJsonAsync("/e/test", data.Select(d => new { name = app.EventName, data = d }).ToArray());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private Task<long> RunCountAsync(FakeApp app) =>
        fixture.Platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.runs r JOIN platform.functions f ON f.id = r.function_id WHERE f.slug = @slug", ("slug", app.Slug));

    private async Task<List<JsonElement>> CompletedOutputsAsync(FakeApp app)
    {
        var page = await fixture.Platform.Http.GetFromJsonAsync<JsonElement>($"/api/v1/runs?function={app.Slug}&status=Completed&limit=50");
        var outputs = new List<JsonElement>();
        foreach (var summary in page.GetProperty("items").EnumerateArray())
        {
            var run = await fixture.GetRunAsync(summary.GetProperty("id").GetString()!);
            outputs.Add(run.GetProperty("output").Clone());
        }

        return outputs;
    }
}
