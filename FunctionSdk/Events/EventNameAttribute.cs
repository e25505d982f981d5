namespace FunctionSdk;

/// <summary>
/// Gives an event type its event name, e.g. <c>[EventName("shop/order.placed")] record OrderPlaced(...)</c>.
/// The type's instances are the event's <c>data</c>; the name is used when the type triggers a function,
/// is awaited with <see cref="IStepTools.WaitForEventAsync{T}(string, TimeSpan, string?)"/>, or is sent with
/// <see cref="IEventSender"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = false)]
public sealed class EventNameAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="name">The event name; names starting with <c>inngest/</c> are reserved for the platform.</param>
    public EventNameAttribute(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    /// <summary>The event name.</summary>
    public string Name { get; }
}
