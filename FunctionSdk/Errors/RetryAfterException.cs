namespace FunctionSdk;

/// <summary>
/// Thrown by user code to ask the platform to retry the step (or the function) no sooner than a given
/// delay or time, e.g. when a downstream API answered 429 (the JS SDK's <c>RetryAfterError</c>).
/// </summary>
/// <remarks>
/// The reply carries a <c>Retry-After</c> header: whole seconds (rounded up) for a delay, an ISO-8601
/// timestamp for a point in time. The retry still counts as an attempt: on the final attempt the step
/// fails for good instead.
/// </remarks>
public class RetryAfterException : Exception
{
    /// <summary>Asks for a retry after <paramref name="delay"/>.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="delay">How long to wait before the next attempt; must not be negative.</param>
    /// <param name="innerException">The cause, if any.</param>
    public RetryAfterException(string message, TimeSpan delay, Exception? innerException = null)
        : base(message, innerException)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        Delay = delay;
    }

    /// <summary>Asks for a retry at or after <paramref name="retryAt"/>.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="retryAt">The earliest time for the next attempt.</param>
    /// <param name="innerException">The cause, if any.</param>
    public RetryAfterException(string message, DateTimeOffset retryAt, Exception? innerException = null)
        : base(message, innerException)
    {
        RetryAt = retryAt;
    }

    /// <summary>The requested delay, when the exception was created with one.</summary>
    public TimeSpan? Delay { get; }

    /// <summary>The requested time, when the exception was created with one.</summary>
    public DateTimeOffset? RetryAt { get; }
}
