using Microsoft.Extensions.Logging;

namespace FunctionSdk;

/// <summary>What a durable function gets on every call: the event, the step tools, the run, a logger.</summary>
/// <typeparam name="TEvent">The type of the triggering event's <c>data</c>.</typeparam>
/// <remarks>
/// The function runs again from the top on every call (replay): see <see cref="IDurableFunction{TEvent}"/>
/// for what that means for code outside steps.
/// </remarks>
public sealed class FunctionContext<TEvent>
{
    internal FunctionContext(DurableEvent<TEvent> @event, IStepTools step, RunInfo run, ILogger logger, IServiceProvider services)
    {
        Event = @event;
        Step = step;
        Run = run;
        Logger = logger;
        Services = services;
    }

    /// <summary>The event that started the run (the same on every replay).</summary>
    public DurableEvent<TEvent> Event { get; }

    /// <summary>The step tools: run, sleep, wait for an event, invoke, send events.</summary>
    public IStepTools Step { get; }

    /// <summary>The run id and the current attempt.</summary>
    public RunInfo Run { get; }

    /// <summary>
    /// A logger that stays silent while the function replays steps already done, so each line is written
    /// once per run rather than once per call (a line may still repeat when a call is retried).
    /// </summary>
    public ILogger Logger { get; }

    /// <summary>The services of this call's DI scope.</summary>
    public IServiceProvider Services { get; }
}
