using System.Collections.Concurrent;
using System.Reflection;

namespace FunctionSdk.Events;

/// <summary>Reads <see cref="EventNameAttribute"/> from event types.</summary>
internal static class EventNames
{
    private static readonly ConcurrentDictionary<Type, string?> s_names = new();

    public static string? Find(Type type) =>
        s_names.GetOrAdd(type, t => t.GetCustomAttribute<EventNameAttribute>()?.Name);

    public static string Of(Type type) =>
        Find(type) ?? throw new InvalidOperationException(
            $"The type {type.FullName} has no [EventName(\"...\")] attribute, so it cannot stand for an event. " +
            "Add the attribute or pass the event name explicitly.");
}
