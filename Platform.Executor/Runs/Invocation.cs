using System.Text;
using System.Text.Json;
using Platform.Executor.Protocol;

namespace Platform.Executor.Runs;

/// <summary>
/// <c>step.invoke</c> (protocol.md §15.3), the pure part: the event that starts the invoked run and the values the
/// invoking step resolves to. The invoked run is linked to the invoking step by a wait row (<c>waits.invoked_run_id</c>),
/// consumed once, either by the invoked run's final commit or by the timeout.
/// </summary>
public static class Invocation
{
    /// <summary>The event an invoked run is started with; the SDK admits it whatever the function's triggers.</summary>
    public const string InvokedEvent = "inngest/function.invoked";

    /// <summary>What the wait row of an invoke records as its event (Go waits for this event to resume the caller).</summary>
    public const string FinishedEvent = "inngest/function.finished";

    /// <summary>Without <c>opts.timeout</c> Go waits a year.</summary>
    public static DateTimeOffset DefaultExpiry(DateTimeOffset now) => now.AddYears(1);

    /// <summary>The step's value when the invoked run did not end in time.</summary>
    public static readonly string TimeoutMemo = ErrorJson.WrapError(
        ErrorJson.Create("InngestInvokeTimeoutError", "Timed out waiting for invoked function to complete"));

    /// <summary>The error an invoking step gets when the invoked run was cancelled.</summary>
    public static readonly string CancelledError = ErrorJson.Create("InngestInvokeCancelledError", "The invoked function run was cancelled");

    /// <summary>The step's value when no active function has the slug.</summary>
    public static string NotFoundMemo(string slug) =>
        ErrorJson.WrapError(ErrorJson.Create("Error", $"could not find function with ID: {slug}"));

    /// <summary><c>&lt;runId&gt;.&lt;stepId&gt;</c>: names the invoking step in the invoked run's event.</summary>
    public static string CorrelationId(string runId, string stepId) => $"{runId}.{stepId}";

    /// <summary>
    /// Checks an op's <c>opts.payload</c>: absent, or an object whose <c>data</c> is absent, null or an object and whose
    /// <c>v</c> is absent or a string. Returns the error message, or null when the payload is usable.
    /// </summary>
    public static string? ValidatePayload(JsonElement? payload)
    {
        if (payload is null || payload.Value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var p = payload.Value;
        if (p.ValueKind != JsonValueKind.Object)
        {
            return "opts.payload: expected an object";
        }

        if (p.TryGetProperty("data", out var data) && data.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            return "opts.payload.data: expected an object";
        }

        if (p.TryGetProperty("v", out var v) && v.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return "opts.payload.v: expected a string";
        }

        return JsonSafety.FindUnstorable(p) is { } bad ? $"opts.payload contains {bad}" : null;
    }

    /// <summary>
    /// The invoked run's event: <c>data</c> is the payload's data plus <c>_inngest</c> (who invoked, the
    /// correlation id, the expiry), <c>user</c> and <c>v</c> come from the payload.
    /// </summary>
    public static (string DataJson, string? UserJson, string? V) ChildEvent(
        string? payloadJson,
        string targetSlug,
        string correlationId,
        string sourceAppId,
        string sourceFunctionSlug,
        DateTimeOffset expiry,
        string? stepName)
    {
        using var doc = JsonDocument.Parse(string.IsNullOrEmpty(payloadJson) ? "{}" : payloadJson);
        var payload = doc.RootElement;
        string? user = null;
        string? v = null;
        JsonElement? data = null;
        if (payload.ValueKind == JsonValueKind.Object)
        {
            if (payload.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Object)
            {
                data = d;
            }

            if (payload.TryGetProperty("user", out var u) && u.ValueKind == JsonValueKind.Object)
            {
                user = u.GetRawText();
            }

            if (payload.TryGetProperty("v", out var vv) && vv.ValueKind == JsonValueKind.String)
            {
                v = vv.GetString();
            }
        }

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (data is { } fields)
            {
                foreach (var property in fields.EnumerateObject().Where(p => p.Name != "_inngest"))
                {
                    property.WriteTo(w);
                }
            }

            w.WriteStartObject("_inngest");
            w.WriteString("fn_id", targetSlug);
            w.WriteString("correlation_id", correlationId);
            w.WriteString("source_app_id", sourceAppId);
            w.WriteString("source_fn_id", sourceFunctionSlug);
            w.WriteNumber("source_fn_v", 0);
            w.WriteNumber("expire", expiry.ToUnixTimeMilliseconds());
            if (stepName is not null)
            {
                w.WriteString("name", stepName);
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return (Encoding.UTF8.GetString(buffer.ToArray()), user, v);
    }
}
