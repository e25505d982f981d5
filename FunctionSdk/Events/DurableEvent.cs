namespace FunctionSdk;

/// <summary>
/// An event as the platform delivered it: its name, its <c>data</c> as <typeparamref name="TData"/>, its id
/// and its timestamp.
/// </summary>
/// <typeparam name="TData">The type <c>data</c> is deserialized to (System.Text.Json, web defaults).</typeparam>
/// <param name="Name">The event name.</param>
/// <param name="Data">The event's <c>data</c>.</param>
/// <param name="Id">The event id (the sender's idempotency key, or the platform's id), when present.</param>
/// <param name="Timestamp">When the event was sent, when present.</param>
public sealed record DurableEvent<TData>(string Name, TData Data, string? Id, DateTimeOffset? Timestamp);
