using FunctionSdk.Events;

namespace FunctionSdk;

/// <summary>An event to send to the platform.</summary>
/// <param name="Name">The event name; must not be empty.</param>
/// <param name="Data">The event's <c>data</c>: an object serialized with System.Text.Json (web defaults), or null for <c>{}</c>.</param>
/// <param name="Id">
/// An optional idempotency key: the platform starts no second run for the same function and id within 24 hours.
/// </param>
/// <param name="Timestamp">An optional timestamp; the current time when null.</param>
public sealed record EventMessage(string Name, object? Data, string? Id = null, DateTimeOffset? Timestamp = null)
{
    /// <summary>Creates a message from a typed event; the name comes from its <see cref="EventNameAttribute"/>.</summary>
    /// <typeparam name="T">A type carrying <see cref="EventNameAttribute"/>.</typeparam>
    /// <param name="data">The event's data.</param>
    /// <param name="id">An optional idempotency key.</param>
    /// <returns>The message.</returns>
    public static EventMessage From<T>(T data, string? id = null)
        where T : notnull =>
        new(EventNames.Of(typeof(T)), data, id);
}
