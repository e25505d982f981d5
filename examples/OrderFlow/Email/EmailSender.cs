using System.Collections.Concurrent;

namespace OrderFlow.Email;

/// <summary>An email to send.</summary>
public sealed record EmailMessage(string To, string Subject, string Body);

/// <summary>The mail provider (SendGrid, SES, ...).</summary>
public interface IEmailSender
{
    /// <summary>Sends an email; a second call with the same <paramref name="idempotencyKey"/> sends nothing.</summary>
    Task SendAsync(EmailMessage message, string idempotencyKey, CancellationToken cancellationToken);
}

/// <summary>An outbox in memory: logs every call and keeps each email once per idempotency key.</summary>
public sealed partial class FakeEmailSender(ILogger<FakeEmailSender> logger) : IEmailSender
{
    private readonly ConcurrentDictionary<string, EmailMessage> _sent = new(StringComparer.Ordinal);
    private int _calls;

    /// <summary>Emails sent, by idempotency key.</summary>
    public IReadOnlyDictionary<string, EmailMessage> Sent => _sent;

    /// <summary>Calls of <see cref="SendAsync"/>, including repeated ones.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public Task SendAsync(EmailMessage message, string idempotencyKey, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        if (_sent.TryAdd(idempotencyKey, message))
        {
            LogSent(logger, message.To, message.Subject, idempotencyKey);
        }
        else
        {
            LogDuplicate(logger, message.To, idempotencyKey);
        }

        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Email to {To}: {Subject} (idempotency key {IdempotencyKey})")]
    private static partial void LogSent(ILogger logger, string to, string subject, string idempotencyKey);

    [LoggerMessage(Level = LogLevel.Information, Message = "Email to {To} already sent with idempotency key {IdempotencyKey}; not sent again")]
    private static partial void LogDuplicate(ILogger logger, string to, string idempotencyKey);
}
