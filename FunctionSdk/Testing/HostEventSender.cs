namespace FunctionSdk.Testing;

/// <summary>
/// The <see cref="IEventSender"/> of a test host: app code and <c>step.sendEvent</c> send to the host, which
/// stores the events, starts the runs they trigger and resumes the runs waiting for them.
/// </summary>
internal sealed class HostEventSender : IEventSender
{
    public DurableTestHost Host { get; set; } = null!;

    public Task<SendEventsResult> SendAsync<T>(T data, CancellationToken cancellationToken = default)
        where T : notnull =>
        SendAsync([EventMessage.From(data)], cancellationToken);

    public async Task<SendEventsResult> SendAsync(IReadOnlyList<EventMessage> events, CancellationToken cancellationToken = default)
    {
        var (ids, _) = await Host.ReceiveAsync(events, cancellationToken).ConfigureAwait(false);
        return new SendEventsResult(ids);
    }
}
