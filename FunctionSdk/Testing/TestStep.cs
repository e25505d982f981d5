using System.Text.Json;

namespace FunctionSdk.Testing;

/// <summary>What kind of step a <see cref="TestStep"/> is.</summary>
public enum TestStepKind
{
    /// <summary><see cref="IStepTools.RunAsync{T}(string, Func{CancellationToken, Task{T}})"/> and its overloads.</summary>
    Run,

    /// <summary><see cref="IStepTools.SendEventAsync(string, IReadOnlyList{EventMessage})"/>.</summary>
    SendEvent,

    /// <summary><see cref="IStepTools.SleepAsync"/> or <see cref="IStepTools.SleepUntilAsync"/>.</summary>
    Sleep,

    /// <summary><see cref="IStepTools.WaitForEventAsync{T}(string, string, TimeSpan, string?)"/>.</summary>
    WaitForEvent,

    /// <summary><see cref="IStepTools.InvokeAsync{TResult}"/>.</summary>
    Invoke,
}

/// <summary>An error as the platform stores it: the serialized exception's name and message.</summary>
/// <param name="Name">The error name: <c>Error</c> for <see cref="Exception"/>, <c>NonRetriableError</c>, or the exception's type name.</param>
/// <param name="Message">The error message.</param>
public sealed record TestError(string Name, string Message)
{
    internal static TestError From(JsonElement error)
    {
        string? Text(string property) =>
            error.ValueKind == JsonValueKind.Object && error.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;

        return new TestError(Text("name") ?? "Error", Text("message") ?? Text("error") ?? error.GetRawText());
    }
}

/// <summary>A step the host stored for a run, in the order the steps completed (the run's stack).</summary>
/// <param name="Id">The step id as written, with <c>:n</c> for a repeated id (<c>item:1</c>).</param>
/// <param name="HashedId">The step's wire id (SHA-1 of <paramref name="Id"/>).</param>
/// <param name="Kind">What kind of step it is.</param>
/// <param name="Output">
/// The stored output: the step's result, the received event (a wait), or null (a sleep, a wait that timed out,
/// a failed step).
/// </param>
/// <param name="Error">The error when the step failed for good (retries used up, <see cref="NonRetriableException"/>, a failed invoke).</param>
/// <param name="Attempts">How many times the step ran (1 when it succeeded at once; retries add to it).</param>
public sealed record TestStep(string Id, string HashedId, TestStepKind Kind, JsonElement? Output, TestError? Error, int Attempts)
{
    /// <summary>The output read as <typeparamref name="T"/> (System.Text.Json, web defaults).</summary>
    /// <typeparam name="T">The type to read.</typeparam>
    /// <returns>The output, or default when there is none.</returns>
    public T? GetOutput<T>() => Output is { } output ? output.Deserialize<T>(DurableTestHost.Json) : default;
}
