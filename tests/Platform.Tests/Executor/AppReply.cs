using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using WireMock.ResponseBuilders;

namespace Platform.Tests.Executor;

/// <summary>
/// One scripted reply of a <see cref="FakeApp"/>. By default it looks like an SDK reply: <c>X-Inngest-Sdk: test</c>
/// and <c>Content-Type: application/json</c>; each property lets a test break one thing on purpose.
/// </summary>
public sealed record AppReply
{
    public int Status { get; init; } = 200;

    /// <summary>The body, sent as is (null: no body).</summary>
    public string? Body { get; init; }

    /// <summary>A raw body (for bytes a string cannot hold, such as invalid UTF-8); wins over <see cref="Body"/>.</summary>
    public byte[]? BodyBytes { get; init; }

    /// <summary>The Content-Type header; null sends none.</summary>
    public string? ContentType { get; init; } = "application/json";

    /// <summary>Whether the reply carries <c>X-Inngest-Sdk: test</c>.</summary>
    public bool SdkHeader { get; init; } = true;

    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>How long the app takes before it answers.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>A WireMock transport fault instead of a proper reply.</summary>
    public FaultType Fault { get; init; } = FaultType.NONE;

    /// <summary>200: the function returned <paramref name="outputJson"/>.</summary>
    public static AppReply Complete(string outputJson) => new() { Status = 200, Body = outputJson };

    /// <summary>206 with the given ops (each a JSON object, see <see cref="AppOp"/>).</summary>
    public static AppReply Ops(params string[] ops) => new() { Status = 206, Body = "[" + string.Join(",", ops) + "]" };

    /// <summary>A function-level error: the serialized error with <c>X-Inngest-No-Retry</c>.</summary>
    public static AppReply Error(int status, string errorJson, bool noRetry) =>
        new AppReply { Status = status, Body = errorJson }.WithHeader("X-Inngest-No-Retry", noRetry ? "true" : "false");

    public AppReply WithHeader(string name, string value) =>
        this with { Headers = new Dictionary<string, string>(Headers) { [name] = value } };
}

/// <summary>Builds the op objects of a 206 reply as the JS SDK writes them (protocol.md §10.3).</summary>
public static class AppOp
{
    /// <summary>The hashed step id the SDK uses: lowercase hex SHA-1 of the user's step id.</summary>
    public static string Id(string userStepId) =>
        Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(userStepId)));

    public static string StepRun(string userStepId, string dataJson) =>
        Build(userStepId, "StepRun", userStepId, o => o["data"] = JsonNode.Parse(dataJson));

    public static string StepPlanned(string userStepId) =>
        Build(userStepId, "StepPlanned", userStepId, o => o["data"] = null);

    public static string StepError(string userStepId, string errorJson) =>
        Build(userStepId, "StepError", userStepId, o =>
        {
            o["error"] = JsonNode.Parse(errorJson);
            o["data"] = null;
        });

    public static string StepFailed(string userStepId, string errorJson) =>
        Build(userStepId, "StepFailed", userStepId, o =>
        {
            o["error"] = JsonNode.Parse(errorJson);
            o["data"] = JsonNode.Parse(errorJson);
        });

    /// <summary>v4 sends the duration in <c>name</c> and empty <c>opts</c>.</summary>
    public static string Sleep(string userStepId, string duration) =>
        Build(userStepId, "Sleep", duration, o => o["data"] = null);

    /// <summary>v4 sends the awaited event name in <c>name</c>; <c>opts</c> carries <c>timeout</c> and <c>if</c>.</summary>
    public static string WaitForEvent(string userStepId, string eventName, string timeout, string? ifExpression) =>
        Build(userStepId, "WaitForEvent", eventName, o =>
        {
            var opts = new JsonObject { ["timeout"] = timeout };
            if (ifExpression is not null)
            {
                opts["if"] = ifExpression;
            }

            o["opts"] = opts;
            o["data"] = null;
        });

    /// <summary>The op of checkpointing mode: the function returned <paramref name="dataJson"/>.</summary>
    public static string RunComplete(string dataJson) =>
        new JsonObject { ["op"] = "RunComplete", ["id"] = Id("complete"), ["data"] = JsonNode.Parse(dataJson) }.ToJsonString();

    /// <summary>An op with any opcode (for protocol violations).</summary>
    public static string Custom(string userStepId, string opcode) => Build(userStepId, opcode, userStepId, o => o["data"] = null);

    public static string ErrorJson(string name, string message) =>
        new JsonObject { ["name"] = name, ["message"] = message, ["stack"] = $"{name}: {message}\n    at test", ["__serialized"] = true }.ToJsonString();

    private static string Build(string userStepId, string opcode, string name, Action<JsonObject> extra)
    {
        var op = new JsonObject
        {
            ["id"] = Id(userStepId),
            ["op"] = opcode,
            ["name"] = name,
            ["displayName"] = userStepId,
            ["opts"] = new JsonObject(),
            ["userland"] = new JsonObject { ["id"] = userStepId },
        };
        extra(op);
        return op.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }
}
