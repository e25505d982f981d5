using System.Buffers;
using System.Text.Json;
using Platform.Executor.Events;

namespace Platform.Dashboard.Events;

/// <summary>The result of checking a <see cref="SendEventForm"/>: the events to ingest, or an error per field.</summary>
public sealed record SendEventCheck(IReadOnlyList<IncomingEvent>? Events, string? NameError, string? DataError)
{
    public bool IsValid => Events is not null;
}

/// <summary>
/// The "Send test event" form: a name and a JSON object. Checked here field by field, then by the event API's own
/// validation (<see cref="EventIngest.Parse"/>), so a test event obeys exactly the rules of a real send.
/// </summary>
public sealed class SendEventForm
{
    public string? Name { get; set; }

    /// <summary>The event's <c>data</c>: a JSON object; blank means <c>{}</c>.</summary>
    public string? Data { get; set; }

    public SendEventCheck Check(long nowMs)
    {
        string? nameError = null, dataError = null;
        var name = Name?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            nameError = "Required: the event name, such as app/user.signup";
        }

        var data = string.IsNullOrWhiteSpace(Data) ? "{}" : Data;
        try
        {
            using var doc = JsonDocument.Parse(data);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                dataError = $"Expected a JSON object such as {{\"id\": 1}}, got a JSON {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}";
            }
        }
        catch (JsonException ex)
        {
            dataError = "Not valid JSON: " + ex.Message;
        }

        if (nameError is not null || dataError is not null)
        {
            return new SendEventCheck(null, nameError, dataError);
        }

        var (events, error) = EventIngest.Parse(Body(name!, data), nowMs);
        if (events is not null)
        {
            return new SendEventCheck(events, null, null);
        }

        // The API's messages start with the field's path: "event.name: ..." or "event.data: ...".
        return error!.StartsWith("event.name", StringComparison.Ordinal)
            ? new SendEventCheck(null, Strip(error, "event.name"), null)
            : new SendEventCheck(null, null, error.StartsWith("event.data", StringComparison.Ordinal) ? Strip(error, "event.data") : error);
    }

    /// <summary><c>{"name": …, "data": …}</c>, the body a client would send to <c>/e/{key}</c>.</summary>
    private static ReadOnlyMemory<byte> Body(string name, string data)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("name", name);
            writer.WritePropertyName("data");
            writer.WriteRawValue(data, skipInputValidation: false);
            writer.WriteEndObject();
        }

        return buffer.WrittenMemory;
    }

    private static string Strip(string error, string path) => error[path.Length..].TrimStart(':', ' ');
}
