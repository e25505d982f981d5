using System.Text.Json;

namespace Platform.Executor.Protocol;

/// <summary>Serialized errors in the SDK's shape: <c>{"name":…,"message":…}</c>.</summary>
public static class ErrorJson
{
    public static string Create(string name, string message, string? stack = null)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("name", name);
            w.WriteString("message", message);
            if (stack is not null)
            {
                w.WriteString("stack", stack);
            }

            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The memo value of a failed step: <c>{"error": …}</c>.</summary>
    public static string WrapError(string errorJson) => "{\"error\":" + errorJson + "}";

    /// <summary>The memo value of a successful step: <c>{"data": …}</c>.</summary>
    public static string WrapData(string? dataJson) => "{\"data\":" + (dataJson ?? "null") + "}";

    /// <summary>The message of an error object, for logs and lists.</summary>
    public static string MessageOf(string? errorJson)
    {
        if (string.IsNullOrEmpty(errorJson))
        {
            return "";
        }

        try
        {
            using var doc = JsonDocument.Parse(errorJson);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("message", out var m)
                && m.ValueKind == JsonValueKind.String)
            {
                return m.GetString() ?? "";
            }
        }
        catch (JsonException)
        {
        }

        return errorJson.Length > 200 ? errorJson[..200] : errorJson;
    }
}
