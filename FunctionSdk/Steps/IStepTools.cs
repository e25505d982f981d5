namespace FunctionSdk;

/// <summary>
/// The durable steps of a function (<c>context.Step</c>). Each verb takes a step id first: a stable name,
/// unique within the function (a repeated id, e.g. in a loop, is numbered automatically: <c>item</c>,
/// <c>item:1</c>, <c>item:2</c>, the same way as the JS SDK does).
/// </summary>
/// <remarks>
/// <para>Every step is stored by the platform once it is done; on each later call (the function replays from
/// the top) the step returns the stored result without running again. A step whose result is not stored yet
/// suspends the function: its task stays pending and the call ends. Start several steps and await them
/// together (<c>Task.WhenAll</c>) to run them in parallel on the platform.</para>
/// <para>A step runs at least once, not exactly once: a retry or a crash can run it again. Make its side
/// effects idempotent with <see cref="StepContext.IdempotencyKey"/>.</para>
/// <para>Only call these from the function body (not from inside a step body, not from another thread), and
/// await every step you start.</para>
/// </remarks>
public interface IStepTools
{
    /// <summary>Runs <paramref name="body"/> once and stores its result; later calls return the stored result.</summary>
    /// <typeparam name="T">The result type, serialized with System.Text.Json (web defaults).</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="body">The step's work; it may run more than once (at least once).</param>
    /// <returns>The step's result.</returns>
    /// <exception cref="StepFailedException">The step failed for good (no retries left, or <see cref="NonRetriableException"/>).</exception>
    Task<T> RunAsync<T>(string id, Func<CancellationToken, Task<T>> body);

    /// <summary>Like <see cref="RunAsync{T}(string, Func{CancellationToken, Task{T}})"/>, with the step's <see cref="StepContext"/> (its idempotency key).</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="body">The step's work; it may run more than once, so key its side effects on <see cref="StepContext.IdempotencyKey"/>.</param>
    /// <returns>The step's result.</returns>
    /// <exception cref="StepFailedException">The step failed for good.</exception>
    Task<T> RunAsync<T>(string id, Func<StepContext, CancellationToken, Task<T>> body);

    /// <summary>Runs <paramref name="body"/>, which returns nothing, once.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="body">The step's work; it may run more than once.</param>
    /// <returns>A task that completes when the step is done.</returns>
    /// <exception cref="StepFailedException">The step failed for good.</exception>
    Task RunAsync(string id, Func<CancellationToken, Task> body);

    /// <summary>Runs <paramref name="body"/>, which returns nothing, once, with the step's <see cref="StepContext"/>.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="body">The step's work; it may run more than once.</param>
    /// <returns>A task that completes when the step is done.</returns>
    /// <exception cref="StepFailedException">The step failed for good.</exception>
    Task RunAsync(string id, Func<StepContext, CancellationToken, Task> body);

    /// <summary>Pauses the run for <paramref name="duration"/> (durably: no process waits).</summary>
    /// <param name="id">The step id.</param>
    /// <param name="duration">How long; rounded down to whole seconds, at least 1 s (the platform's resolution).</param>
    /// <returns>A task that completes on the call after the sleep has elapsed.</returns>
    Task SleepAsync(string id, TimeSpan duration);

    /// <summary>Pauses the run until <paramref name="until"/>.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="until">When to resume (millisecond precision).</param>
    /// <returns>A task that completes on the call after that time.</returns>
    Task SleepUntilAsync(string id, DateTimeOffset until);

    /// <summary>
    /// Waits for the next event named <paramref name="eventName"/> received after this step was reached,
    /// optionally matching <paramref name="ifExpression"/>; returns null if none arrives within <paramref name="timeout"/>.
    /// </summary>
    /// <typeparam name="T">The type of the awaited event's <c>data</c>.</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="eventName">The awaited event's name.</param>
    /// <param name="timeout">How long to wait (whole seconds, at least 1 s).</param>
    /// <param name="ifExpression">
    /// An optional CEL expression; <c>event</c> is the run's triggering event, <c>async</c> the candidate, e.g.
    /// <c>async.data.orderId == event.data.orderId</c>.
    /// </param>
    /// <returns>The event, or null on timeout.</returns>
    Task<DurableEvent<T>?> WaitForEventAsync<T>(string id, string eventName, TimeSpan timeout, string? ifExpression = null);

    /// <summary>Waits for the next event of type <typeparamref name="T"/> (named by its <see cref="EventNameAttribute"/>).</summary>
    /// <typeparam name="T">A type carrying <see cref="EventNameAttribute"/>.</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="timeout">How long to wait.</param>
    /// <param name="ifExpression">An optional CEL expression over <c>event</c> and <c>async</c>.</param>
    /// <returns>The event, or null on timeout.</returns>
    Task<DurableEvent<T>?> WaitForEventAsync<T>(string id, TimeSpan timeout, string? ifExpression = null);

    /// <summary>Sends events to the platform, once: the ids are stored, a replay does not send again.</summary>
    /// <param name="id">The step id.</param>
    /// <param name="events">The events; at least one.</param>
    /// <returns>The platform's event ids.</returns>
    Task<SendEventsResult> SendEventAsync(string id, IReadOnlyList<EventMessage> events);

    /// <summary>Sends one typed event (named by its <see cref="EventNameAttribute"/>), once.</summary>
    /// <typeparam name="T">A type carrying <see cref="EventNameAttribute"/>.</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="data">The event's data.</param>
    /// <returns>The platform's event id.</returns>
    Task<SendEventsResult> SendEventAsync<T>(string id, T data)
        where T : notnull;

    /// <summary>
    /// Starts another function with <paramref name="data"/> as its event's <c>data</c> and waits for its result.
    /// </summary>
    /// <typeparam name="TResult">The type of the invoked function's output.</typeparam>
    /// <param name="id">The step id.</param>
    /// <param name="functionId">The invoked function's id (without the app prefix).</param>
    /// <param name="data">The data of the invoked function's event (<c>inngest/function.invoked</c>).</param>
    /// <param name="timeout">How long to wait for the result; the platform's default (a year) when null.</param>
    /// <param name="appId">The app of the invoked function; this app when null.</param>
    /// <returns>The invoked function's output.</returns>
    /// <exception cref="StepFailedException">The invoked function failed, was not found, or timed out.</exception>
    Task<TResult> InvokeAsync<TResult>(string id, string functionId, object? data, TimeSpan? timeout = null, string? appId = null);
}
