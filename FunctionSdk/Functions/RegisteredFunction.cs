using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace FunctionSdk.Functions;

/// <summary>A trigger: an event name (with an optional CEL expression) or a cron schedule.</summary>
internal sealed record FunctionTrigger(string? Event, string? Expression, string? Cron)
{
    public const string ScheduledTimerEvent = "inngest/scheduled.timer";
    public const string InvokedEvent = "inngest/function.invoked";

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
