using System.Collections.Concurrent;
using System.Text.Json;
using Cel;

namespace Platform.Executor.Events;

/// <summary>
/// CEL expressions (<c>event.data.id == async.data.id</c>) over JSON, through the <c>Cel</c> package.
/// Compiled programs are cached by text; a reference to a missing field evaluates to false, as in Inngest.
/// </summary>
public sealed class Expressions
{
    private readonly CelEnvironment _environment = new(null, null);
    private readonly ConcurrentDictionary<string, CelProgramDelegate> _programs = new(StringComparer.Ordinal);

    /// <summary>Checks an expression compiles; returns the parser's message if not.</summary>
    public string? Validate(string expression)
    {
        try
        {
            GetProgram(expression);
            return null;
        }
        catch (Exception ex) when (ex is CelException or InvalidOperationException or ArgumentException)
        {
            return ex.Message;
        }
    }

    /// <summary>Evaluates a boolean expression; anything but <c>true</c> (including errors) is false.</summary>
    public bool IsTrue(string expression, IDictionary<string, object?> variables)
    {
        try
        {
            return GetProgram(expression)(variables) is true;
        }
        catch (Exception ex) when (ex is CelException or InvalidOperationException or ArgumentException or InvalidCastException or NullReferenceException)
        {
            return false;
        }
    }

    /// <summary>Evaluates an expression to a value; false when it fails (a missing field, a type error).</summary>
    public bool TryEvaluate(string expression, IDictionary<string, object?> variables, out object? value)
    {
        try
        {
            value = GetProgram(expression)(variables);
            // A missing field is a value here (the package's CelNoSuchField), not an exception.
            return value?.GetType().Name != "CelNoSuchField";
        }
        catch (Exception ex) when (ex is CelException or InvalidOperationException or ArgumentException or InvalidCastException or NullReferenceException or KeyNotFoundException)
        {
            value = null;
            return false;
        }
    }

    private CelProgramDelegate GetProgram(string expression)
    {
        if (_programs.TryGetValue(expression, out var program))
        {
            return program;
        }

        // Compile once; a bounded cache keeps hostile variety from growing memory without limit.
        program = _environment.Compile(expression);
        if (_programs.Count < 10_000)
        {
            _programs.TryAdd(expression, program);
        }

        return program;
    }

    /// <summary>Converts JSON to the maps, lists and scalars CEL evaluates over.</summary>
    public static object? ToCel(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().ToDictionary(p => p.Name, p => ToCel(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().Select(ToCel).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.TryGetInt64(out var l) ? l : element.GetDouble(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    /// <summary>An event as CEL sees it: <c>{name, data, id, ts, v}</c>.</summary>
    public static Dictionary<string, object?> EventVariable(string name, string dataJson, string? id, long ts)
    {
        using var doc = JsonDocument.Parse(dataJson);
        return new Dictionary<string, object?>
        {
            ["name"] = name,
            ["data"] = ToCel(doc.RootElement),
            ["id"] = id,
            ["ts"] = ts,
        };
    }
}
