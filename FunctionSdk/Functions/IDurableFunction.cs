namespace FunctionSdk;

/// <summary>
/// A durable function written as a class. Services come through the constructor (the class is resolved
/// from a fresh DI scope for every call); the id, name, triggers and retries come from
/// <see cref="DurableFunctionAttribute"/>, <see cref="EventTriggerAttribute"/> and
/// <see cref="CronTriggerAttribute"/> on the class. Register it with <c>AddFunction&lt;T&gt;()</c>.
/// </summary>
/// <typeparam name="TEvent">
/// The type of the triggering event's <c>data</c>. When it carries <see cref="EventNameAttribute"/> and the
/// class declares no trigger, the function is triggered by that event. Use <see cref="System.Text.Json.JsonElement"/>
/// for raw data.
/// </typeparam>
/// <remarks>
/// <para><b>Replay.</b> The platform calls the function once per step: every call runs
/// <see cref="RunAsync"/> again from the top, returning stored results for the steps already done. Code
/// outside steps therefore runs many times and must be deterministic: read the clock, random numbers,
/// databases or remote APIs only inside <see cref="IStepTools.RunAsync{T}(string, Func{CancellationToken, Task{T}})"/>,
/// and call the steps in the same order with the same ids on every call.</para>
/// <para><b>At least once.</b> A step may run more than once (a retry, a crash after the step ran but before
/// its result was stored). Side effects in a step must be idempotent: use
/// <see cref="StepContext.IdempotencyKey"/> as the key of a payment, an email, a write.</para>
/// <para><b>Suspension.</b> When the function reaches a step whose result is not stored yet, the step's
/// task simply never completes in that call: the SDK replies to the platform and the call ends. No exception
/// is involved, so <c>catch (Exception)</c> cannot interfere; but <c>finally</c> blocks and <c>using</c>
/// disposals around a pending step do not run in that call. Never block on a step's task
/// (<c>.Result</c>, <c>.Wait()</c>), and do not use <c>ConfigureAwait(false)</c> in the function body.</para>
/// </remarks>
public interface IDurableFunction<TEvent>
{
    /// <summary>Runs (or replays) the function.</summary>
    /// <param name="context">The triggering event, the step tools, the run and a logger.</param>
    /// <param name="cancellationToken">Signalled when the platform's call is aborted.</param>
    /// <returns>The run's output, serialized with System.Text.Json (web defaults); null for none.</returns>
    Task<object?> RunAsync(FunctionContext<TEvent> context, CancellationToken cancellationToken);
}
