using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Events;
using FunctionSdk.Protocol;

namespace FunctionSdk.Execution;

/// <summary>The step verbs, turned into ops as the JS SDK shapes them (protocol.md §10.3).</summary>
internal sealed class StepTools(Execution execution) : IStepTools
{
    private JsonSerializerOptions Json => execution.Settings.Json;

    public Task<T> RunAsync<T>(string id, Func<CancellationToken, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return RunAsync<T>(id, (_, ct) => body(ct));
    }

    public Task<T> RunAsync<T>(string id, Func<StepContext, CancellationToken, Task<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return execution.Register(
            new StepDescriptor(id, Op.StepPlanned, id, [], async (step, ct) => Serialize(await body(step, ct).ConfigureAwait(false))),
            ReadStepResult<T>);
    }

    public Task RunAsync(string id, Func<CancellationToken, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return RunAsync(id, (_, ct) => body(ct));
    }

    public Task RunAsync(string id, Func<StepContext, CancellationToken, Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return RunAsync<object?>(id, async (step, ct) =>
        {
            await body(step, ct).ConfigureAwait(false);
            return null;
        });
    }

    public Task SleepAsync(string id, TimeSpan duration) =>
        execution.Register(new StepDescriptor(id, Op.Sleep, TimeStrings.Duration(duration), [], null), static (_, _) => true);

    public Task SleepUntilAsync(string id, DateTimeOffset until) =>
        execution.Register(new StepDescriptor(id, Op.Sleep, TimeStrings.Instant(until), [], null), static (_, _) => true);

    public Task<DurableEvent<T>?> WaitForEventAsync<T>(string id, string eventName, TimeSpan timeout, string? ifExpression = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(eventName);
        var opts = new JsonObject { ["timeout"] = TimeStrings.Duration(timeout) };
        if (ifExpression is not null)
        {
            opts["if"] = ifExpression;
        }

        return execution.Register(new StepDescriptor(id, Op.WaitForEvent, eventName, opts, null), (_, memo) =>
        {
            var value = Unwrap(memo);
            return value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined
                ? null
                : EventReader.Read<T>(value, Json);
        });
    }

    public Task<DurableEvent<T>?> WaitForEventAsync<T>(string id, TimeSpan timeout, string? ifExpression = null) =>
        WaitForEventAsync<T>(id, EventNames.Of(typeof(T)), timeout, ifExpression);

    public Task<SendEventsResult> SendEventAsync(string id, IReadOnlyList<EventMessage> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0 || events.Any(e => string.IsNullOrWhiteSpace(e.Name)))
        {
            throw new ArgumentException("Send at least one event, each with a name.", nameof(events));
        }

        var sender = execution.Settings.EventSender;
        return execution.Register(
            new StepDescriptor(id, Op.StepPlanned, "sendEvent", new JsonObject { ["type"] = "step.sendEvent" },
                async (_, ct) => Serialize(await sender.SendAsync(events, ct).ConfigureAwait(false))),
            ReadStepResult<SendEventsResult>);
    }

    public Task<SendEventsResult> SendEventAsync<T>(string id, T data)
        where T : notnull =>
        SendEventAsync(id, [EventMessage.From(data)]);

    public Task<TResult> InvokeAsync<TResult>(string id, string functionId, object? data, TimeSpan? timeout = null, string? appId = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(functionId);
        var opts = new JsonObject
        {
            ["payload"] = new JsonObject { ["data"] = Serialize(data) ?? new JsonObject() },
            ["function_id"] = $"{appId ?? execution.Settings.AppId}-{functionId}",
        };
        if (timeout is { } t)
        {
            opts["timeout"] = TimeStrings.Duration(t);
        }

        return execution.Register(new StepDescriptor(id, Op.InvokeFunction, null, opts, null), ReadStepResult<TResult>);
    }

    private JsonNode? Serialize<T>(T value) =>
        value is null ? null : JsonSerializer.SerializeToNode(value, value.GetType(), Json);

    /// <summary>protocol.md §9.3: <c>{"data":x}</c> is x, <c>{"error":e}</c> throws, anything else is the data.</summary>
    private T ReadStepResult<T>(string stepId, JsonElement memo)
    {
        if (IsOnly(memo, "error", out var error))
        {
            throw ErrorSerializer.ToStepFailed(stepId, error);
        }

        var value = Unwrap(memo);
        return value.ValueKind == JsonValueKind.Undefined ? default! : value.Deserialize<T>(Json)!;
    }

    private static JsonElement Unwrap(JsonElement memo) => IsOnly(memo, "data", out var data) ? data : memo;

    /// <summary>protocol.md §9.3: <c>{"data":x}</c> and <c>{"error":e}</c> count only as the only property.</summary>
    internal static bool IsOnly(JsonElement memo, string property, out JsonElement value)
    {
        value = default;
        if (memo.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        var count = 0;
        foreach (var member in memo.EnumerateObject())
        {
            if (++count > 1 || member.Name != property)
            {
                return false;
            }

            value = member.Value;
        }

        return count == 1;
    }
}
