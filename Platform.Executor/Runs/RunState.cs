using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Executor.Runs;

/// <summary>What kind of pending work a <see cref="WorkItem"/> is.</summary>
public enum WorkKind
{
    /// <summary>A discovery call (<c>stepId=step</c>): replay the function and learn what comes next.</summary>
    Discovery,
    /// <summary>A call that executes one planned step (<c>stepId=&lt;hashed id&gt;</c>).</summary>
    Step,
    /// <summary>A durable timer of <c>step.sleep</c>.</summary>
    Sleep,
    /// <summary>A <c>step.waitForEvent</c>; due at its timeout.</summary>
    Wait,
    /// <summary>A <c>step.invoke</c>: waits for the invoked run to end; due at its timeout.</summary>
    Invoke,
}

/// <summary>One piece of pending work of a run, due at <see cref="DueAt"/>.</summary>
public sealed record WorkItem
{
    public const string DiscoveryStepId = "step";

    public required WorkKind Kind { get; init; }
    /// <summary>Hashed step id; <c>step</c> for discovery.</summary>
    public required string StepId { get; init; }
    public string? Name { get; init; }
    public string? DisplayName { get; init; }
    /// <summary>0-based attempt of this item (protocol.md §14.1).</summary>
    public int Attempt { get; init; }
    public required DateTimeOffset DueAt { get; init; }
    /// <summary>Wait: the awaited event name.</summary>
    public string? Event { get; init; }
    /// <summary>Wait: the CEL <c>if</c> expression.</summary>
    public string? Expression { get; init; }
    /// <summary>Invoke: the slug of the function to run.</summary>
    public string? Function { get; init; }
    /// <summary>
    /// Invoke: the op's <c>opts.payload</c> (<c>{data, v?, user?}</c>). Only carried to the commit that starts the
    /// invoked run; the state kept afterwards does not hold it.
    /// </summary>
    public string? Payload { get; init; }

    public static WorkItem Discovery(DateTimeOffset dueAt, int attempt = 0) =>
        new() { Kind = WorkKind.Discovery, StepId = DiscoveryStepId, DueAt = dueAt, Attempt = attempt };
}

/// <summary>
/// The snapshot the state machine works on, stored as jsonb in <c>runs.state</c>. Memoized step outputs are
/// not in here: they live in the <c>steps</c> table (immutable rows) and are passed in separately.
/// </summary>
public sealed record RunState
{
    public IReadOnlyList<WorkItem> Items { get; init; } = [];
    /// <summary>Sent as <c>ctx.disable_immediate_execution</c>: set while parallel steps are in flight.</summary>
    public bool DisableImmediateExecution { get; init; }

    public static RunState Start(DateTimeOffset now) => new() { Items = [WorkItem.Discovery(now)] };

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    public static RunState FromJson(string json) =>
        JsonSerializer.Deserialize<RunState>(json, s_json) ?? throw new InvalidOperationException("run state is null");
}
