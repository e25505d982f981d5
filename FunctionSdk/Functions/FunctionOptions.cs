using FunctionSdk.Events;
using FunctionSdk.Functions;

namespace FunctionSdk;

/// <summary>The definition of a function registered as a lambda: name, triggers, retries.</summary>
public sealed class FunctionOptions
{
    internal List<FunctionTrigger> Triggers { get; } = [];

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
}
