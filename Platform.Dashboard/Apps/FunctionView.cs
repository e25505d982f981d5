using System.Text.Json;
using Platform.Executor.Queries;

namespace Platform.Dashboard.Apps;

/// <summary>A trigger as shown: an event name (maybe with a CEL condition) or a cron schedule.</summary>
public sealed record TriggerView(string Kind, string Text, string? Condition);

/// <summary>A function as the apps page lists it: its triggers and the config it was synced with.</summary>
public sealed record FunctionView(FunctionDto Function, IReadOnlyList<TriggerView> Triggers, IReadOnlyList<string> Settings)
{
    // Keys of a function config that are not flow-control settings (protocol.md §6.4).
    private static readonly HashSet<string> s_plainKeys = ["id", "name", "triggers", "steps"];

    public static FunctionView From(FunctionDto function) => new(function, TriggersOf(function.Triggers), SettingsOf(function.Config));

    public static IReadOnlyList<TriggerView> TriggersOf(JsonElement triggers)
    {
        if (triggers.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        var list = new List<TriggerView>();
        foreach (var t in triggers.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            if (Text(t, "event") is { } name)
            {
                list.Add(new TriggerView("event", name, Text(t, "expression")));
            }
            else if (Text(t, "cron") is { } cron)
            {
                list.Add(new TriggerView("cron", cron, null));
            }
        }

        return list;
    }

    /// <summary>Names of the settings beyond triggers and retries (concurrency, throttle, cancel, ...), in config order.</summary>
    public static IReadOnlyList<string> SettingsOf(JsonElement config) =>
        config.ValueKind != JsonValueKind.Object
            ? []
            : config.EnumerateObject()
                .Where(p => !s_plainKeys.Contains(p.Name) && p.Value.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined))
                .Select(p => p.Name)
                .ToList();

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(v.GetString()) ? v.GetString() : null;
}
