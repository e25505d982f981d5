using System.Text;
using System.Text.Json;

namespace Platform.Executor.Runs;

/// <summary>Builds the body of a call request (protocol.md §9.2). Stored JSON is written raw, never re-parsed.</summary>
public static class CallRequestBuilder
{
    public static byte[] Build(
        string runId,
        WorkItem item,
        int maxAttempts,
        bool disableImmediateExecution,
        string eventJson,
        IReadOnlyCollection<KeyValuePair<string, string>> memo)
    {
        var buffer = new ArrayBufferWriterStream(4096 + (memo.Count * 64));
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { SkipValidation = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("ctx");
            w.WriteString("run_id", runId);
            w.WriteNumber("attempt", item.Attempt);
            w.WriteNumber("max_attempts", maxAttempts);
            w.WriteBoolean("disable_immediate_execution", disableImmediateExecution);
            w.WriteBoolean("use_api", false);
            w.WriteStartObject("stack");
            w.WriteStartArray("stack");
            foreach (var entry in memo)
            {
                w.WriteStringValue(entry.Key);
            }

            w.WriteEndArray();
            w.WriteNumber("current", memo.Count);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WritePropertyName("event");
            w.WriteRawValue(eventJson, skipInputValidation: true);
            w.WriteStartArray("events");
            w.WriteRawValue(eventJson, skipInputValidation: true);
            w.WriteEndArray();
            w.WriteStartObject("steps");
            foreach (var entry in memo)
            {
                w.WritePropertyName(entry.Key);
                w.WriteRawValue(entry.Value, skipInputValidation: true);
            }

            w.WriteEndObject();
            w.WriteNumber("version", -1);
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>The event as sent to apps: <c>{name, data, id, ts, user, v?}</c>.</summary>
    public static string EventJson(string name, string dataJson, string eventId, long ts, string? userJson, string? v)
    {
        var sb = new StringBuilder(dataJson.Length + 128);
        sb.Append("{\"name\":").Append(JsonSerializer.Serialize(name))
          .Append(",\"data\":").Append(dataJson)
          .Append(",\"id\":").Append(JsonSerializer.Serialize(eventId))
          .Append(",\"ts\":").Append(ts)
          .Append(",\"user\":").Append(userJson ?? "{}");
        if (v is not null)
        {
            sb.Append(",\"v\":").Append(JsonSerializer.Serialize(v));
        }

        return sb.Append('}').ToString();
    }

    /// <summary>A growable in-memory stream that hands its bytes back without an extra copy pass.</summary>
    private sealed class ArrayBufferWriterStream(int capacity) : MemoryStream(capacity);
}
