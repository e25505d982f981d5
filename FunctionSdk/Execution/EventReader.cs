using System.Text.Json;

namespace FunctionSdk.Execution;

/// <summary>Reads an event object of the wire into a <see cref="DurableEvent{TData}"/>.</summary>
internal static class EventReader
{
    private static readonly JsonElement s_emptyObject = JsonDocument.Parse("{}").RootElement;

    public static DurableEvent<T> Read<T>(JsonElement @event, JsonSerializerOptions json)
    {
        var name = @event.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
        var data = @event.TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Null ? d : s_emptyObject;
        var id = @event.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
        DateTimeOffset? ts = @event.TryGetProperty("ts", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out var ms)
            ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
            : null;

        T value;
        try
        {
            value = data.Deserialize<T>(json)!;
        }
        catch (JsonException e)
        {
            throw new NonRetriableException(
                $"The data of event \"{name}\" cannot be read as {typeof(T).Name}: {e.Message}", e);
        }

        return new DurableEvent<T>(name, value, id, ts);
    }
}
