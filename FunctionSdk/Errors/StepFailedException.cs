namespace FunctionSdk;

/// <summary>
/// Thrown at a step's <c>await</c> when the step failed for good: it used up its retries, threw a
/// <see cref="NonRetriableException"/>, or the invoked function failed. The error is the one the platform
/// stored for the step, so every replay throws the same error at the same place.
/// </summary>
/// <remarks>
/// Catch it to compensate (refund, notify) and let the function go on. If it escapes the function, the run
/// fails with the step's original error name and message (HTTP 400, no retry).
/// </remarks>
public sealed class StepFailedException : Exception
{
    /// <summary>Creates the exception from a stored step error.</summary>
    /// <param name="stepId">The step's id as the user wrote it.</param>
    /// <param name="errorName">The stored error's <c>name</c>, e.g. <c>Error</c> or <c>NonRetriableError</c>.</param>
    /// <param name="message">The stored error's <c>message</c>.</param>
    /// <param name="errorStack">The stored error's <c>stack</c>, if any.</param>
    public StepFailedException(string stepId, string errorName, string message, string? errorStack)
        : base(message)
    {
        StepId = stepId;
        ErrorName = errorName;
        ErrorStack = errorStack;
    }

    /// <summary>The step's id as the user wrote it.</summary>
    public string StepId { get; }

    /// <summary>The stored error's name (the exception type of the SDK that ran the step).</summary>
    public string ErrorName { get; }

    /// <summary>The stored error's stack trace, as text; may be empty.</summary>
    public string? ErrorStack { get; }
}
