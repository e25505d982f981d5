using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace FunctionSdk.Functions;

/// <summary>
/// A trigger: an event name (with an optional CEL expression) or a cron schedule. A failure handler's trigger
/// names the function it handles (<paramref name="FailureOf"/>): its expression needs the app id, known at sync.
/// </summary>
internal sealed record FunctionTrigger(string? Event, string? Expression, string? Cron, string? FailureOf = null)
{
    public const string ScheduledTimerEvent = "inngest/scheduled.timer";
    public const string InvokedEvent = "inngest/function.invoked";
    public const string FailedEvent = "inngest/function.failed";

    /// <summary>The trigger of <c>{functionId}-failure</c>, as the JS SDK registers it (protocol.md §6.4).</summary>
    public static FunctionTrigger FailureOfFunction(string functionId) => new(FailedEvent, null, null, functionId);

    /// <summary>The CEL expression in an app: a failure handler's admits only its function's failures.</summary>
    public string? ExpressionIn(string appId) =>
        FailureOf is null ? Expression : $"event.data.function_id == '{appId}-{FailureOf}'";

    /// <summary>Whether an incoming event may run the function (JS v4's check, protocol.md §9.4).</summary>
    public bool Admits(string eventName) =>
        Cron is not null
            ? eventName == ScheduledTimerEvent
            : Event!.EndsWith('*')
                ? eventName.StartsWith(Event[..^1], StringComparison.Ordinal)
                : eventName == Event;
}

/// <summary>What user code needs to run: the raw event, the tools, the run, a logger, the services.</summary>
internal sealed record FunctionInvocation(
    JsonElement Event,
    IStepTools Step,
    RunInfo Run,
    ILogger Logger,
    IServiceProvider Services,
    JsonSerializerOptions Json,
    CancellationToken CancellationToken);

/// <summary>A function of this app: its definition and how to call it.</summary>
internal sealed class RegisteredFunction
{
    public required string Id { get; init; }

    public string? Name { get; init; }

    public required IReadOnlyList<FunctionTrigger> Triggers { get; init; }

    public int? Retries { get; init; }

    /// <summary>Runs the user code (resolving the class from the call's scope, reading the typed event).</summary>
    public required Func<FunctionInvocation, Task<object?>> Invoke { get; init; }
}
