using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace FunctionSdk;

/// <summary>The error a run failed with for good, as the platform reports it in <c>inngest/function.failed</c>.</summary>
/// <param name="Name">The error's name: the exception type's name, or the platform's (<c>InngestFunctionTimeoutError</c>, ...).</param>
/// <param name="Message">The error message.</param>
/// <param name="Stack">The stack trace, when the SDK sent one.</param>
public sealed record FunctionError(string Name, string Message, string? Stack);

/// <summary>
/// A failure handler written as a class: it runs once a run of its function has failed for good (all retries
/// spent, or a <see cref="NonRetriableException"/>), as a function of its own, <c>{id}-failure</c>. Declare it with
/// <see cref="FunctionOptions.OnFailure{THandler}(int)"/>; it gets its services through its constructor.
/// </summary>
/// <typeparam name="TEvent">The type of the failed run's triggering event's <c>data</c>.</typeparam>
public interface IFailureHandler<TEvent>
{
    /// <summary>Handles the failure: compensate, alert, record. It is a durable function: use steps for side effects.</summary>
    /// <param name="context">The failed run's event and error, and the handler's own step tools.</param>
    /// <param name="cancellationToken">Cancelled when the call is aborted.</param>
    /// <returns>A task that completes when the handler is done.</returns>
    Task RunAsync(FailureContext<TEvent> context, CancellationToken cancellationToken);
}

/// <summary>What a failure handler gets: the failed run's original event and error, and its own run's tools.</summary>
/// <typeparam name="TEvent">The type of the failed run's triggering event's <c>data</c>.</typeparam>
public sealed class FailureContext<TEvent>
{
    internal FailureContext(
        DurableEvent<TEvent> @event, FunctionError error, string failedRunId, string functionId, DurableEvent<JsonElement> failedEvent,
        IStepTools step, RunInfo run, ILogger logger, IServiceProvider services)
    {
        Event = @event;
        Error = error;
        FailedRunId = failedRunId;
        FunctionId = functionId;
        FailedEvent = failedEvent;
        Step = step;
        Run = run;
        Logger = logger;
        Services = services;
    }

    /// <summary>The event that started the failed run (<c>event.data.event</c>).</summary>
    public DurableEvent<TEvent> Event { get; }

    /// <summary>The error the run failed with (<c>event.data.error</c>).</summary>
    public FunctionError Error { get; }

    /// <summary>The id of the run that failed (<c>event.data.run_id</c>).</summary>
    public string FailedRunId { get; }

    /// <summary>The platform id of the function that failed, <c>{AppId}-{id}</c> (<c>event.data.function_id</c>).</summary>
    public string FunctionId { get; }

    /// <summary>The <c>inngest/function.failed</c> event itself, which started this handler's run.</summary>
    public DurableEvent<JsonElement> FailedEvent { get; }

    /// <summary>The handler's own step tools (its run is a durable function too).</summary>
    public IStepTools Step { get; }

    /// <summary>The handler's own run.</summary>
    public RunInfo Run { get; }

    /// <summary>A logger that stays silent while the handler replays steps already done.</summary>
    public ILogger Logger { get; }

    /// <summary>The services of this call's DI scope.</summary>
    public IServiceProvider Services { get; }
}
