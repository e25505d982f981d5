using System.Text.Json;

namespace Platform.Executor.Protocol;

/// <summary>Opcode names of a 206 reply (protocol.md §10.3).</summary>
public static class OpNames
{
    public const string StepRun = "StepRun";
    public const string Step = "Step";
    public const string StepPlanned = "StepPlanned";
    public const string StepError = "StepError";
    public const string StepFailed = "StepFailed";
    public const string Sleep = "Sleep";
    public const string WaitForEvent = "WaitForEvent";
    public const string InvokeFunction = "InvokeFunction";
    public const string RunComplete = "RunComplete";
    public const string DiscoveryRequest = "DiscoveryRequest";
    public const string DeferAdd = "DeferAdd";
    public const string DeferAbort = "DeferAbort";
}

/// <summary>One element of a 206 reply. JSON values are kept as raw text so stored bytes equal what the SDK sent.</summary>
public sealed record Op(
    string Id,
    string Name,
    string? StepName,
    string? DisplayName,
    JsonElement? Opts,
    string? DataJson,
    string? ErrorJson)
{
    /// <summary>A string option, if present.</summary>
    public string? OptString(string key) =>
        Opts is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : null;

    /// <summary>An option of any JSON kind, if present.</summary>
    public JsonElement? Opt(string key) =>
        Opts is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty(key, out var v) ? v : null;
}

/// <summary>What one call to the app came back with, classified (protocol.md §10.1).</summary>
public abstract record CallOutcome;

/// <summary>200: the function returned <paramref name="OutputJson"/>.</summary>
public sealed record FunctionCompleted(string OutputJson) : CallOutcome;

/// <summary>206: a list of ops.</summary>
public sealed record OpsReturned(IReadOnlyList<Op> Ops, bool NoRetry, RetryAfter? RetryAfter) : CallOutcome;

/// <summary>
/// The call failed: a function-level error (400/500), a transport error, or a reply we cannot trust.
/// <paramref name="Final"/> means no retry whatever the budget (400 + no-retry, output too large, ...).
/// </summary>
public sealed record CallFailed(int? StatusCode, string ErrorJson, bool Final, RetryAfter? RetryAfter) : CallOutcome;

/// <summary>A <c>Retry-After</c> header: seconds or an instant.</summary>
public sealed record RetryAfter(TimeSpan? Delay, DateTimeOffset? At)
{
    public DateTimeOffset Resolve(DateTimeOffset now)
    {
        var at = At ?? now + (Delay ?? TimeSpan.Zero);
        // Go clamps to [1 s, 24 h]; a past instant means "as soon as possible" but never earlier than 1 s.
        var min = now + TimeSpan.FromSeconds(1);
        var max = now + TimeSpan.FromHours(24);
        return at < min ? min : at > max ? max : at;
    }
}
