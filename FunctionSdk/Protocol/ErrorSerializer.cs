using System.Text.Json;
using System.Text.Json.Nodes;

namespace FunctionSdk.Protocol;

/// <summary>
/// Errors on the wire: <c>{name, message, stack, __serialized: true, cause?}</c>, as the JS SDK writes them.
/// <see cref="Exception"/> itself is called <c>Error</c> (JS's base error), the SDK's exceptions take their
/// JS names, other exceptions their type name.
/// </summary>
internal static class ErrorSerializer
{
    private const int MaxCauseDepth = 5;

    public static string NameOf(Exception exception) => exception switch
    {
        StepFailedException failed => failed.ErrorName,
        _ when exception.GetType() == typeof(NonRetriableException) => "NonRetriableError",
        _ when exception.GetType() == typeof(RetryAfterException) => "RetryAfterError",
        _ when exception.GetType() == typeof(Exception) => "Error",
        _ => exception.GetType().Name,
    };

    public static JsonObject Serialize(Exception exception) => Serialize(exception, 0);

    /// <summary>The short form the JS SDK puts in a <c>StepFailed</c> op's <c>data</c>.</summary>
    public static JsonObject SerializeShort(Exception exception) => new()
    {
        ["__serialized"] = true,
        ["name"] = NameOf(exception),
        ["message"] = exception.Message,
        ["stack"] = "",
    };

    /// <summary>Reads a stored step error (<c>{"error": {...}}</c>) back into the exception user code sees.</summary>
    public static StepFailedException ToStepFailed(string stepId, JsonElement error)
    {
        string? Text(string property) =>
            error.ValueKind == JsonValueKind.Object && error.TryGetProperty(property, out var value) &&
            value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;

        var name = Text("name");
        var message = Text("message") ?? Text("error") ?? (error.ValueKind == JsonValueKind.String ? error.GetString() : null);
        return new StepFailedException(
            stepId,
            string.IsNullOrEmpty(name) ? "Error" : name,
            message ?? "Unknown error",
            Text("stack"));
    }

    private static JsonObject Serialize(Exception exception, int depth)
    {
        var name = NameOf(exception);
        var stack = exception is StepFailedException failed
            ? failed.ErrorStack ?? ""
            : exception.StackTrace is { } trace
                ? $"{name}: {exception.Message}\n{trace}"
                : $"{name}: {exception.Message}";

        var json = new JsonObject
        {
            ["name"] = name,
            ["message"] = exception.Message,
            ["stack"] = stack,
            ["__serialized"] = true,
        };

        if (exception.InnerException is { } inner && exception is not StepFailedException && depth < MaxCauseDepth)
        {
            json["cause"] = Serialize(inner, depth + 1);
        }

        return json;
    }
}
