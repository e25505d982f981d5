using System.Text;
using System.Text.Json;
using Platform.Executor.Events;
using Platform.Executor.Protocol;

namespace Platform.Executor.Runs;

/// <summary>A run that ended, as the lifecycle events describe it.</summary>
/// <param name="TriggerEventJson">The triggering event as sent to apps (<c>{name, data, id, ts, user}</c>).</param>
public sealed record EndedRun(
    string RunId,
    string FunctionSlug,
    RunStatus Status,
    string? OutputJson,
    string? ErrorJson,
    string TriggerName,
    string TriggerDataJson,
    string TriggerEventJson);

/// <summary>
/// The events the platform sends when a run ends (protocol.md §14.6), pure: <c>inngest/function.finished</c> for
/// every end, plus <c>inngest/function.failed</c> (id = the run id) or <c>inngest/function.cancelled</c>. A run
/// started by one of these events sends none, so a failure handler that fails does not start itself again.
/// </summary>
public static class LifecycleEvents
{
    public const string Failed = "inngest/function.failed";
    public const string Finished = "inngest/function.finished";
    public const string Cancelled = "inngest/function.cancelled";

    /// <summary>The error a cancelled run reports in its lifecycle events.</summary>
    public static readonly string CancelledError = ErrorJson.Create("FunctionCancelledError", "function cancelled");

    public static bool IsLifecycle(string eventName) => eventName is Failed or Finished or Cancelled;

    public static IReadOnlyList<IncomingEvent> For(EndedRun run, long nowMs)
    {
        if (IsLifecycle(run.TriggerName) || !run.Status.IsFinal())
        {
            return [];
        }

        var error = run.Status switch
        {
            RunStatus.Completed => null,
            RunStatus.Cancelled => run.ErrorJson ?? CancelledError,
            _ => run.ErrorJson ?? ErrorJson.Create("Error", "The run failed"),
        };
        var data = Data(run, error);
        var events = new List<IncomingEvent> { new(Finished, data, null, nowMs, null, null) };
        if (run.Status == RunStatus.Failed)
        {
            events.Add(new IncomingEvent(Failed, data, run.RunId, nowMs, null, null));
        }
        else if (run.Status == RunStatus.Cancelled)
        {
            events.Add(new IncomingEvent(Cancelled, data, null, nowMs, null, null));
        }

        return events;
    }

    /// <summary><c>{function_id, run_id, event, events, result | error, correlation_id?}</c>, as Go sends it.</summary>
    private static string Data(EndedRun run, string? errorJson)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("function_id", run.FunctionSlug);
            w.WriteString("run_id", run.RunId);
            w.WritePropertyName("event");
            w.WriteRawValue(run.TriggerEventJson, skipInputValidation: true);
            w.WriteStartArray("events");
            w.WriteRawValue(run.TriggerEventJson, skipInputValidation: true);
            w.WriteEndArray();
            if (errorJson is null)
            {
                w.WritePropertyName("result");
                w.WriteRawValue(run.OutputJson ?? "null", skipInputValidation: true);
            }
            else
            {
                w.WritePropertyName("error");
                w.WriteRawValue(errorJson, skipInputValidation: true);
            }

            if (CorrelationId(run.TriggerDataJson) is { } correlation)
            {
                w.WriteString("correlation_id", correlation);
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string? CorrelationId(string triggerDataJson)
    {
        using var doc = JsonDocument.Parse(triggerDataJson);
        return doc.RootElement.ValueKind == JsonValueKind.Object
            && doc.RootElement.TryGetProperty("_inngest", out var meta) && meta.ValueKind == JsonValueKind.Object
            && meta.TryGetProperty("correlation_id", out var c) && c.ValueKind == JsonValueKind.String
                ? c.GetString()
                : null;
    }
}
