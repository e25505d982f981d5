using System.Text.Json;
using FunctionSdk.Execution;
using FunctionSdk.Functions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FunctionSdk.Tests.Infrastructure;

/// <summary>Runs one call of a lambda function through the engine, without HTTP.</summary>
internal static class EngineHarness
{
    public const string AppId = "test-app";

    public static Task<CallResult> RunAsync(
        Func<FunctionContext<JsonElement>, CancellationToken, Task<object?>> function,
        CallBuilder call,
        IEventSender? events = null,
        ILogger? logger = null,
        TimeSpan? stepNotFoundTimeout = null,
        Action<FunctionOptions>? configure = null) =>
        RunAsync<JsonElement>(function, call, events, logger, stepNotFoundTimeout, configure);

    public static async Task<CallResult> RunAsync<TEvent>(
        Func<FunctionContext<TEvent>, CancellationToken, Task<object?>> function,
        CallBuilder call,
        IEventSender? events = null,
        ILogger? logger = null,
        TimeSpan? stepNotFoundTimeout = null,
        Action<FunctionOptions>? configure = null)
    {
        var catalog = new FunctionCatalog();
        new DurableFunctionsBuilder(new ServiceCollection(), catalog)
            .AddFunction("fn", function, configure ?? (o => o.OnEvent("test/*").OnEvent("shop/*")));
        var settings = new ExecutionSettings(
            AppId,
            new JsonSerializerOptions(JsonSerializerDefaults.Web),
            TimeProvider.System,
            events ?? new RecordingEventSender(),
            stepNotFoundTimeout ?? TimeSpan.FromSeconds(10));
        using var services = new ServiceCollection().BuildServiceProvider();
        return await FunctionEngine.ExecuteAsync(
            catalog.All.Single(), call.Build(), services, settings, logger ?? NullLogger.Instance, CancellationToken.None);
    }
}

/// <summary>An in-memory event sender that records what it was asked to send.</summary>
internal sealed class RecordingEventSender : IEventSender
{
    public List<EventMessage> Sent { get; } = [];

    public Task<SendEventsResult> SendAsync<T>(T data, CancellationToken cancellationToken = default)
        where T : notnull =>
        SendAsync([EventMessage.From(data)], cancellationToken);

    public Task<SendEventsResult> SendAsync(IReadOnlyList<EventMessage> events, CancellationToken cancellationToken = default)
    {
        var first = Sent.Count;
        Sent.AddRange(events);
        return Task.FromResult(new SendEventsResult(events.Select((_, i) => $"evt-{first + i}").ToList()));
    }
}

/// <summary>A logger that keeps the messages it was given.</summary>
internal sealed class ListLogger : ILogger
{
    public List<string> Messages { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (Messages)
        {
            Messages.Add(formatter(state, exception));
        }
    }
}
