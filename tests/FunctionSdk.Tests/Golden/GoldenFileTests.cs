using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Protocol;
using FunctionSdk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;

namespace FunctionSdk.Tests.Golden;

/// <summary>
/// Replays the call requests recorded against the real <c>inngest</c> npm SDK 4.24.0 (see generate.mjs) on the
/// C# twins of its functions, and checks that the C# SDK replies the same: status, protocol headers, and every
/// op field (id, op, name, displayName, opts, userland, data, error name/message). Only <c>timing</c> values
/// and error <c>stack</c> texts may differ.
/// </summary>
public sealed class GoldenFileTests : IAsyncLifetime
{
    private static readonly string s_folder = Path.Combine(AppContext.BaseDirectory, "Golden");
    private FakePlatform _platform = null!;
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    public static TheoryData<string> Scenarios() => new(ScenarioNames());

    private static List<string> ScenarioNames() =>
        Directory.GetFiles(s_folder, "*.json")
            .Where(f => !f.EndsWith(".sent.json", StringComparison.Ordinal))
            .Select(f => Path.GetFileNameWithoutExtension(f))
            .Order(StringComparer.Ordinal)
            .ToList();

    public async Task InitializeAsync()
    {
        _platform = await FakePlatform.StartAsync();
        _app = await SdkApp.StartAsync(
            o =>
            {
                o.AppId = "probe-app";
                o.PlatformUrl = _platform.Url;
            },
            f => GoldenFunctions.Register(f));
        _client = _app.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
        await _platform.DisposeAsync();
    }

    [Fact]
    public void Scenarios_AllRecorded() =>
        Assert.Equal(
            ["caught-step-error", "function-error", "invoke", "non-retriable", "parallel", "repeat", "retry-after", "send-event",
             "sleep", "step-error", "steps", "uncaught-step-error", "wait-for-event"],
            ScenarioNames());

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Replies_MatchJsSdk(string scenario)
    {
        var recorded = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(s_folder, scenario + ".json")))!;
        var number = 0;
        foreach (var call in recorded["calls"]!.AsArray())
        {
            number++;
            var where = $"{scenario} call {number}";
            var query = call!["request"]!["query"]!;
            var response = await _client.PostAsync(
                $"{SdkApp.Path}?fnId={query["fnId"]}&stepId={query["stepId"]}",
                new StringContent(call["request"]!["body"]!.ToJsonString(), Encoding.UTF8, "application/json"));
            var expected = call["response"]!;

            Assert.True((int)response.StatusCode == expected["status"]!.GetValue<int>(),
                $"{where}: status {(int)response.StatusCode}, JS replied {expected["status"]}");
            var headers = expected["headers"]!.AsObject();
            Assert.Equal(SdkInfo.Header, response.Headers.GetValues("X-Inngest-Sdk").Single());
            Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
            foreach (var header in new[] { "x-inngest-req-version", "x-inngest-no-retry", "retry-after" })
            {
                var ours = response.Headers.TryGetValues(header, out var values) ? values.Single() : null;
                Assert.True(headers[header]?.ToString() == ours, $"{where}: header {header} is {ours ?? "absent"}, JS sent {headers[header]?.ToString() ?? "none"}");
            }

            var actual = JsonNode.Parse(await response.Content.ReadAsStringAsync());
            AssertSameReply(expected["body"], actual, (int)response.StatusCode == 206, where);
        }

        if (scenario == "send-event")
        {
            // What reached the event API: the same events (ts aside).
            var jsSent = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(s_folder, "send-event.sent.json")))![0]!["events"]!.AsArray();
            var ourSent = JsonNode.Parse(Assert.Single(_platform.To("/e/")).Body)!.AsArray();
            Assert.Equal(jsSent.Count, ourSent.Count);
            for (var i = 0; i < jsSent.Count; i++)
            {
                Assert.Equal(Keys(jsSent[i]), Keys(ourSent[i]));
                Assert.True(JsonNode.DeepEquals(jsSent[i]!["name"], ourSent[i]!["name"]) && JsonNode.DeepEquals(jsSent[i]!["data"], ourSent[i]!["data"]));
            }
        }
    }

    private static void AssertSameReply(JsonNode? expected, JsonNode? actual, bool ops, string where)
    {
        if (ops && expected is JsonArray expectedOps)
        {
            var actualOps = Assert.IsType<JsonArray>(actual);
            Assert.True(expectedOps.Count == actualOps.Count, $"{where}: {actualOps.Count} ops, JS sent {expectedOps.Count}");
            for (var i = 0; i < expectedOps.Count; i++)
            {
                var e = expectedOps[i]!.AsObject();
                var a = actualOps[i]!.AsObject();
                Assert.True(Keys(e).SequenceEqual(Keys(a)), $"{where} op {i}: fields [{string.Join(",", Keys(a))}], JS sent [{string.Join(",", Keys(e))}]");
                foreach (var field in new[] { "id", "op", "name", "displayName", "opts", "userland", "data" })
                {
                    Assert.True(JsonNode.DeepEquals(WithoutStack(e[field]), WithoutStack(a[field])), $"{where} op {i}: {field} is {a[field]?.ToJsonString()}, JS sent {e[field]?.ToJsonString()}");
                }

                Assert.True(JsonNode.DeepEquals(WithoutStack(e["error"]), WithoutStack(a["error"])), $"{where} op {i}: error is {a["error"]?.ToJsonString()}, JS sent {e["error"]?.ToJsonString()}");
            }

            return;
        }

        Assert.True(JsonNode.DeepEquals(WithoutStack(expected), WithoutStack(actual)), $"{where}: body {actual?.ToJsonString()}, JS sent {expected?.ToJsonString()}");
    }

    /// <summary>Field names in order; the JS SDK's order is kept so the bytes read the same.</summary>
    private static List<string> Keys(JsonNode? node) => node is JsonObject o ? o.Select(p => p.Key).ToList() : [];

    private static JsonNode? WithoutStack(JsonNode? node)
    {
        if (node is not JsonObject o || !o.ContainsKey("stack"))
        {
            return node;
        }

        var copy = o.DeepClone().AsObject();
        Assert.Equal(JsonValueKind.String, copy["stack"]!.GetValueKind());
        copy.Remove("stack");
        return copy;
    }
}
