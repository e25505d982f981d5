namespace FunctionSdk;

/// <summary>
/// Sends events to the platform from application code (a controller, a background service), e.g.
/// <c>await events.SendAsync(new OrderPlaced(orderId, amount))</c>. Inject it; it is registered by
/// <c>AddDurableFunctions</c>.
/// </summary>
/// <remarks>
/// A send is retried up to 5 times on failure with the same <c>X-Inngest-Event-Id-Seed</c>, so the platform
/// gives retried events the same ids. Inside a function, use <see cref="IStepTools.SendEventAsync(string, IReadOnlyList{EventMessage})"/>
/// instead: a plain send there would be repeated on every replay.
/// </remarks>
public interface IEventSender
{
    /// <summary>Sends one typed event; its name comes from the type's <see cref="EventNameAttribute"/>.</summary>
    /// <typeparam name="T">A type carrying <see cref="EventNameAttribute"/>.</typeparam>
    /// <param name="data">The event's data.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns>The platform's event id.</returns>
    Task<SendEventsResult> SendAsync<T>(T data, CancellationToken cancellationToken = default)
        where T : notnull;

    /// <summary>Sends several events in one request.</summary>
    /// <param name="events">The events; at least one.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns>The platform's event ids, in order.</returns>
    Task<SendEventsResult> SendAsync(IReadOnlyList<EventMessage> events, CancellationToken cancellationToken = default);
}
