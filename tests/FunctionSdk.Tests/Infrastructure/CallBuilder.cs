using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Execution;
using FunctionSdk.Protocol;

namespace FunctionSdk.Tests.Infrastructure;

/// <summary>Builds call request bodies as the platform sends them (protocol.md §9.2).</summary>
public sealed class CallBuilder
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private readonly JsonObject _event;
    private readonly List<(string Hash, JsonNode? Value)> _steps = [];
    private List<string>? _stack;
    private int _attempt;
    private int? _maxAttempts = 4;
    private bool _disableImmediate;
    private string? _requested;
    private bool _useApi;

    private CallBuilder(JsonObject @event) => _event = @event;

    public string RunId { get; private set; } = "01HRUNTEST0000000000000001";

    public static CallBuilder For(string eventName = "test/event", object? data = null) =>
        new(new JsonObject
        {
            ["data"] = data is null ? new JsonObject() : JsonSerializer.SerializeToNode(data, s_json),
            ["id"] = "01HEVT0000000000000000001",
            ["name"] = eventName,
            ["ts"] = 1700000000000,
            ["user"] = new JsonObject(),
        });

    /// <summary>A stored successful step, <c>{"data": value}</c>.</summary>
    public CallBuilder Stored(string stepId, object? value) =>
        StoredRaw(stepId, new JsonObject { ["data"] = JsonSerializer.SerializeToNode(value, s_json) });

    /// <summary>A stored value as is (sleep: null, wait for event: the event).</summary>
    public CallBuilder StoredRaw(string stepId, JsonNode? value)
    {
        _steps.Add((StepIds.Hash(stepId), value));
        return this;
    }

    public CallBuilder StoredError(string stepId, string name, string message) =>
        StoredRaw(stepId, new JsonObject { ["error"] = new JsonObject { ["name"] = name, ["message"] = message, ["stack"] = "" } });

    /// <summary>Overrides the completion order (default: the order of the stored steps).</summary>
    public CallBuilder Stack(params string[] stepIds)
    {
        _stack = stepIds.Select(StepIds.Hash).ToList();
        return this;
    }

    public CallBuilder Attempt(int attempt, int? maxAttempts = 4)
    {
        _attempt = attempt;
        _maxAttempts = maxAttempts;
        return this;
    }

    public CallBuilder DisableImmediateExecution()
    {
        _disableImmediate = true;
        return this;
    }

    public CallBuilder Requesting(string stepId)
    {
        _requested = StepIds.Hash(stepId);
        return this;
    }

    public CallBuilder UseApi()
    {
        _useApi = true;
        return this;
    }

    public CallBuilder Run(string runId)
    {
        RunId = runId;
        return this;
    }

    public string StepIdQuery => _requested ?? "step";

    public JsonObject Body()
    {
        var steps = new JsonObject();
        foreach (var (hash, value) in _steps)
        {
            steps[hash] = value?.DeepClone();
        }

        var stack = new JsonArray((_stack ?? _steps.Select(s => s.Hash).ToList()).Select(h => (JsonNode)h).ToArray());
        var ctx = new JsonObject
        {
            ["attempt"] = _attempt,
            ["disable_immediate_execution"] = _disableImmediate,
            ["run_id"] = RunId,
            ["stack"] = new JsonObject { ["current"] = stack.Count, ["stack"] = stack },
            ["use_api"] = _useApi,
        };
        if (_maxAttempts is { } max)
        {
            ctx["max_attempts"] = max;
        }

        return new JsonObject
        {
            ["ctx"] = ctx,
            ["event"] = _event.DeepClone(),
            ["events"] = new JsonArray(_event.DeepClone()),
            ["steps"] = steps,
            ["version"] = 2,
        };
    }

    internal CallRequest Build() => CallRequest.Parse(Encoding.UTF8.GetBytes(Body().ToJsonString()), StepIdQuery);
}
