using System.Text.Json;
using Cel;

namespace FunctionSdk.Testing;

/// <summary>
/// CEL expressions over events (<c>async.data.orderId == event.data.orderId</c>), evaluated with the <c>Cel</c>
/// package the platform uses, over the same view of an event: <c>{name, data, id, ts}</c>.
/// </summary>
internal sealed class EventExpressions
{
    private readonly CelEnvironment _environment = new(null, null);
    private readonly Dictionary<string, CelProgramDelegate> _programs = new(StringComparer.Ordinal);

    /// <summary>The compiler's message when <paramref name="expression"/> does not compile, else null.</summary>
    public string? Validate(string expression)
    {
        try
        {
            Compile(expression);
            return null;
        }
        catch (Exception e) when (e is CelException or InvalidOperationException or ArgumentException)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// True only when the expression evaluates to <c>true</c>; an error (such as a missing field) is false, as on
    /// the platform.
    /// </summary>
    public bool IsTrue(string expression, JsonElement @event, JsonElement? candidate)
    {
        var variables = new Dictionary<string, object?> { ["event"] = EventVariable(@event) };
        if (candidate is { } async)
        {
            variables["async"] = EventVariable(async);
        }

        try
        {
            return Compile(expression)(variables) is true;
        }
        catch (Exception e) when (e is CelException or InvalidOperationException or ArgumentException or InvalidCastException or NullReferenceException)
        {
            return false;
        }
    }

    private CelProgramDelegate Compile(string expression)
    {
        lock (_programs)
        {
            if (!_programs.TryGetValue(expression, out var program))
            {
                program = _environment.Compile(expression);
                _programs[expression] = program;
            }

            return program;
        }
    }

    private static Dictionary<string, object?> EventVariable(JsonElement @event) => new()
    {
        ["name"] = Property(@event, "name"),
        ["data"] = Property(@event, "data") ?? new Dictionary<string, object?>(),
        ["id"] = Property(@event, "id"),
        ["ts"] = Property(@event, "ts"),
    };

    private static object? Property(JsonElement @event, string name) =>
        @event.ValueKind == JsonValueKind.Object && @event.TryGetProperty(name, out var value) ? ToCel(value) : null;

    private static object? ToCel(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().ToDictionary(p => p.Name, p => ToCel(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().Select(ToCel).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out var l) ? l : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
