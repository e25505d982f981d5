using FunctionSdk.Events;

namespace FunctionSdk;

/// <summary>Triggers the function with an event. Repeat the attribute for several events.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class EventTriggerAttribute : Attribute
{
    /// <summary>Triggers the function with the event of this name.</summary>
    /// <param name="eventName">The event name; a trailing <c>*</c> matches every name with that prefix.</param>
    public EventTriggerAttribute(string eventName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventName);
        EventName = eventName;
    }

    /// <summary>Triggers the function with the event named by the type's <see cref="EventNameAttribute"/>.</summary>
    /// <param name="eventType">A type carrying <see cref="EventNameAttribute"/>.</param>
    public EventTriggerAttribute(Type eventType)
    {
        ArgumentNullException.ThrowIfNull(eventType);
        EventName = EventNames.Of(eventType);
    }

    /// <summary>The event name.</summary>
    public string EventName { get; }

    /// <summary>
    /// An optional CEL expression over <c>event</c> that must be true for the event to start a run,
    /// e.g. <c>event.data.amount &gt; 100</c>.
    /// </summary>
    public string? If { get; set; }
}

/// <summary>Triggers the function on a cron schedule (the run's event is <c>inngest/scheduled.timer</c>).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class CronTriggerAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="schedule">A cron expression, optionally prefixed with a time zone: <c>TZ=Europe/Paris 0 9 * * 1-5</c>.</param>
    public CronTriggerAttribute(string schedule)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(schedule);
        Schedule = schedule;
    }

    /// <summary>The cron expression.</summary>
    public string Schedule { get; }
}
