namespace FunctionSdk;

/// <summary>
/// Thrown by user code to fail a step or a whole function at once, without using up the remaining
/// retries (the JS SDK's <c>NonRetriableError</c>).
/// </summary>
/// <remarks>
/// Inside <see cref="IStepTools.RunAsync{T}(string, Func{CancellationToken, Task{T}})"/> the step is
/// reported as failed for good (<c>StepFailed</c>); the function then sees a
/// <see cref="StepFailedException"/> at that step on its next replay. Outside a step the run fails
/// (HTTP 400 with <c>X-Inngest-No-Retry: true</c>).
/// </remarks>
public class NonRetriableException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong; stored with the run.</param>
    public NonRetriableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong; stored with the run.</param>
    /// <param name="innerException">The cause, serialized as the error's <c>cause</c>.</param>
    public NonRetriableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
