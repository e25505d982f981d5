using System.Text.Json;
using FunctionSdk.Events;
using FunctionSdk.Execution;
using FunctionSdk.Functions;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionSdk;

/// <summary>The definition of a function: name, triggers, retries, failure handler.</summary>
public sealed class FunctionOptions
{
    internal List<FunctionTrigger> Triggers { get; } = [];

    /// <summary>The failure handler, when declared: its class (to register in DI), how to call it, its retries.</summary>
    internal FailureHandler? Failure { get; private set; }

    /// <summary>A display name; the id when not set.</summary>
    public string? Name { get; set; }

    /// <summary>How many times a failing step or function call is retried (0 to 20); the platform's default when null.</summary>
    public int? Retries { get; set; }

    /// <summary>Triggers the function with the event of this name.</summary>
    /// <param name="eventName">The event name; a trailing <c>*</c> matches every name with that prefix.</param>
    /// <param name="ifExpression">An optional CEL expression over <c>event</c> that must be true, e.g. <c>event.data.amount &gt; 100</c>.</param>
    /// <returns>These options.</returns>
    public FunctionOptions OnEvent(string eventName, string? ifExpression = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventName);
        Triggers.Add(new FunctionTrigger(eventName, ifExpression, null));
        return this;
    }

    /// <summary>Triggers the function with the event named by <typeparamref name="TEvent"/>'s <see cref="EventNameAttribute"/>.</summary>
    /// <typeparam name="TEvent">A type carrying <see cref="EventNameAttribute"/>.</typeparam>
    /// <param name="ifExpression">An optional CEL expression over <c>event</c>.</param>
    /// <returns>These options.</returns>
    public FunctionOptions OnEvent<TEvent>(string? ifExpression = null) =>
        OnEvent(EventNames.Of(typeof(TEvent)), ifExpression);

    /// <summary>Triggers the function on a cron schedule (the run's event is <c>inngest/scheduled.timer</c>).</summary>
    /// <param name="schedule">A cron expression, optionally prefixed with a time zone: <c>TZ=Europe/Paris 0 9 * * 1-5</c>.</param>
    /// <returns>These options.</returns>
    public FunctionOptions OnCron(string schedule)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(schedule);
        Triggers.Add(new FunctionTrigger(null, null, schedule));
        return this;
    }

    /// <summary>
    /// Declares a failure handler class: once a run of this function fails for good, the platform sends
    /// <c>inngest/function.failed</c> and runs the handler as the function <c>{id}-failure</c> (registered with the
    /// trigger <c>inngest/function.failed</c> and <c>event.data.function_id == '{AppId}-{id}'</c>, as the JS SDK's
    /// <c>onFailure</c>).
    /// </summary>
    /// <typeparam name="THandler">A class implementing <see cref="IFailureHandler{TEvent}"/>, resolved from DI.</typeparam>
    /// <param name="retries">How many times the handler is retried (1, as in the JS SDK, unless set).</param>
    /// <returns>These options.</returns>
    /// <exception cref="InvalidOperationException"><typeparamref name="THandler"/> does not implement <see cref="IFailureHandler{TEvent}"/> exactly once.</exception>
    public FunctionOptions OnFailure<THandler>(int retries = 1)
        where THandler : class
    {
        var type = typeof(THandler);
        var interfaces = type.GetInterfaces()
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IFailureHandler<>))
            .ToList();
        if (interfaces.Count != 1)
        {
            throw new InvalidOperationException(
                $"{type.Name} must implement IFailureHandler<TEvent> exactly once (it implements it {interfaces.Count} times).");
        }

        var invoke = (Func<FunctionInvocation, Task<object?>>)typeof(FunctionOptions)
            .GetMethod(nameof(ClassFailureInvoker), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(type, interfaces[0].GetGenericArguments()[0])
            .Invoke(null, null)!;
        Failure = new FailureHandler(type, invoke, retries);
        return this;
    }

    /// <summary>Declares a failure handler written as a lambda; see <see cref="OnFailure{THandler}(int)"/>.</summary>
    /// <typeparam name="TEvent">The type of the failed run's triggering event's <c>data</c>.</typeparam>
    /// <param name="handler">The handler; a durable function itself, it replays from the top on every call.</param>
    /// <param name="retries">How many times the handler is retried (1 unless set).</param>
    /// <returns>These options.</returns>
    public FunctionOptions OnFailure<TEvent>(Func<FailureContext<TEvent>, CancellationToken, Task> handler, int retries = 1)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Failure = new FailureHandler(null, async invocation =>
        {
            await handler(CreateFailureContext<TEvent>(invocation), invocation.CancellationToken).ConfigureAwait(false);
            return null;
        }, retries);
        return this;
    }

    private static Func<FunctionInvocation, Task<object?>> ClassFailureInvoker<THandler, TEvent>()
        where THandler : class, IFailureHandler<TEvent> =>
        async invocation =>
        {
            var handler = invocation.Services.GetRequiredService<THandler>();
            await handler.RunAsync(CreateFailureContext<TEvent>(invocation), invocation.CancellationToken).ConfigureAwait(false);
            return null;
        };

    /// <summary>Reads <c>inngest/function.failed</c>: <c>data.event</c> is the failed run's event, <c>data.error</c> its error.</summary>
    private static FailureContext<TEvent> CreateFailureContext<TEvent>(FunctionInvocation invocation)
    {
        var failed = EventReader.Read<JsonElement>(invocation.Event, invocation.Json);
        var data = failed.Data;
        if (data.ValueKind != JsonValueKind.Object || !data.TryGetProperty("event", out var original) || original.ValueKind != JsonValueKind.Object)
        {
            throw new NonRetriableException(
                $"A failure handler needs an inngest/function.failed event with data.event; it got \"{failed.Name}\".");
        }

        var error = data.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? e : default;
        return new FailureContext<TEvent>(
            EventReader.Read<TEvent>(original, invocation.Json),
            new FunctionError(Text(error, "name") ?? "Error", Text(error, "message") ?? "", Text(error, "stack")),
            Text(data, "run_id") ?? "",
            Text(data, "function_id") ?? "",
            failed,
            invocation.Step,
            invocation.Run,
            invocation.Logger,
            invocation.Services);
    }

    private static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}

/// <summary>A declared failure handler: its class when it is one, how to call it, its retries.</summary>
internal sealed record FailureHandler(Type? HandlerType, Func<FunctionInvocation, Task<object?>> Invoke, int Retries);
