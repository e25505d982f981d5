using System.Text.Json;

namespace FunctionSdk.Execution;

/// <summary>A call request from the platform (protocol.md §9.2), parsed; no HTTP here.</summary>
internal sealed record CallRequest
{
    public required JsonElement Event { get; init; }

    public IReadOnlyList<JsonElement> Events { get; init; } = [];

    /// <summary>Stored step results by hashed step id (protocol.md §9.3).</summary>
    public IReadOnlyDictionary<string, JsonElement> Steps { get; init; } = new Dictionary<string, JsonElement>();

    public required string RunId { get; init; }

    public int Attempt { get; init; }

    public int? MaxAttempts { get; init; }

    public bool DisableImmediateExecution { get; init; }

    /// <summary>The order in which the stored steps completed (<c>ctx.stack.stack</c>).</summary>
    public IReadOnlyList<string> Stack { get; init; } = [];

    /// <summary>The hashed id of the step to run, or null for a discovery call (<c>stepId=step</c>).</summary>
    public string? RequestedStepId { get; init; }

    public bool UseApi { get; init; }

    /// <summary>True when this attempt is the last one the platform will make (<c>attempt == max_attempts - 1</c>).</summary>
    public bool IsFinalAttempt => MaxAttempts is { } max && Attempt == max - 1;

    /// <summary>Parses a call body; <see cref="FormatException"/> with a clear message when it is not one.</summary>
    public static CallRequest Parse(ReadOnlyMemory<byte> body, string? stepId)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new FormatException($"The call body is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("The call body must be a JSON object.");
            }

            if (!root.TryGetProperty("event", out var @event) || @event.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("The call body has no \"event\" object.");
            }

            var events = root.TryGetProperty("events", out var list) && list.ValueKind == JsonValueKind.Array
                ? list.EnumerateArray().Select(e => e.Clone()).ToList()
                : [];

            var steps = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            if (root.TryGetProperty("steps", out var stored) && stored.ValueKind == JsonValueKind.Object)
            {
                foreach (var step in stored.EnumerateObject())
                {
                    steps[step.Name] = step.Value.Clone();
                }
            }

            var ctx = root.TryGetProperty("ctx", out var c) && c.ValueKind == JsonValueKind.Object ? c : default;
            var stack = new List<string>();
            if (ctx.ValueKind == JsonValueKind.Object && ctx.TryGetProperty("stack", out var s) &&
                s.ValueKind == JsonValueKind.Object && s.TryGetProperty("stack", out var ids) && ids.ValueKind == JsonValueKind.Array)
            {
                stack.AddRange(ids.EnumerateArray().Where(i => i.ValueKind == JsonValueKind.String).Select(i => i.GetString()!));
            }

            if (stack.Count == 0)
            {
                // protocol.md §9.2: without a stack the order of `steps` stands for the completion order.
                stack.AddRange(steps.Keys);
            }

            return new CallRequest
            {
                Event = @event.Clone(),
                Events = events,
                Steps = steps,
                RunId = String(ctx, "run_id") ?? "",
                Attempt = Int(ctx, "attempt") ?? 0,
                MaxAttempts = Int(ctx, "max_attempts"),
                DisableImmediateExecution = Bool(ctx, "disable_immediate_execution"),
                UseApi = Bool(ctx, "use_api"),
                Stack = stack,
                RequestedStepId = string.IsNullOrEmpty(stepId) || stepId == Protocol.StepIds.Discovery ? null : stepId,
            };
        }
    }

    private static string? String(JsonElement ctx, string name) =>
        ctx.ValueKind == JsonValueKind.Object && ctx.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : null;

    private static int? Int(JsonElement ctx, string name) =>
        ctx.ValueKind == JsonValueKind.Object && ctx.TryGetProperty(name, out var v) &&
        v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i)
            ? i
            : null;

    private static bool Bool(JsonElement ctx, string name) =>
        ctx.ValueKind == JsonValueKind.Object && ctx.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
}
