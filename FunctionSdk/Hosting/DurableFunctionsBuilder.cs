using System.Reflection;
using FunctionSdk.Events;
using FunctionSdk.Execution;
using FunctionSdk.Functions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FunctionSdk;

/// <summary>Registers durable functions; returned by <c>AddDurableFunctions</c>.</summary>
public sealed class DurableFunctionsBuilder
{
    private static readonly MethodInfo s_classInvoker =
        typeof(DurableFunctionsBuilder).GetMethod(nameof(CreateClassInvoker), BindingFlags.NonPublic | BindingFlags.Static)!;

    private readonly FunctionCatalog _catalog;

    internal DurableFunctionsBuilder(IServiceCollection services, FunctionCatalog catalog)
    {
        Services = services;
        _catalog = catalog;
    }

    /// <summary>The service collection, for chaining further registrations.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Registers a function class: it implements <see cref="IDurableFunction{TEvent}"/>, carries
    /// <see cref="DurableFunctionAttribute"/> and optionally trigger attributes, and gets its services through its
    /// constructor (it is resolved from a new DI scope on every call).
    /// </summary>
    /// <typeparam name="TFunction">The function class.</typeparam>
    /// <param name="configure">
    /// Adds to what the attributes say, after them: triggers known only at startup (a cron schedule from
    /// configuration, say), or a name or retries that replace the attribute's.
    /// </param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The class is not a valid function (the message says why).</exception>
    public DurableFunctionsBuilder AddFunction<TFunction>(Action<FunctionOptions>? configure = null)
        where TFunction : class
    {
        var type = typeof(TFunction);
        var definition = type.GetCustomAttribute<DurableFunctionAttribute>() ?? throw new InvalidOperationException(
            $"{type.Name} has no [DurableFunction(\"id\")] attribute; add one to give the function its id.");
        var interfaces = type.GetInterfaces()
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDurableFunction<>))
            .ToList();
        if (interfaces.Count != 1)
        {
            throw new InvalidOperationException(
                $"{type.Name} must implement IDurableFunction<TEvent> exactly once (it implements it {interfaces.Count} times).");
        }

        var eventType = interfaces[0].GetGenericArguments()[0];
        var options = new FunctionOptions
        {
            Name = definition.Name,
            Retries = definition.Retries < 0 ? null : definition.Retries,
        };
        foreach (var trigger in type.GetCustomAttributes<EventTriggerAttribute>())
        {
            options.OnEvent(trigger.EventName, trigger.If);
        }

        foreach (var cron in type.GetCustomAttributes<CronTriggerAttribute>())
        {
            options.OnCron(cron.Schedule);
        }

        configure?.Invoke(options);
        Services.TryAddTransient<TFunction>();
        var invoke = (Func<FunctionInvocation, Task<object?>>)s_classInvoker.MakeGenericMethod(type, eventType).Invoke(null, null)!;
        Add(definition.Id, options, eventType, invoke);
        return this;
    }

    /// <summary>Registers a function written as a lambda that returns an output.</summary>
    /// <typeparam name="TEvent">The type of the triggering event's <c>data</c>; its <see cref="EventNameAttribute"/> is the trigger unless <paramref name="configure"/> sets triggers.</typeparam>
    /// <param name="id">The function id, unique in the app and stable across deployments.</param>
    /// <param name="handler">
    /// The function body. It replays from the top on every call: code outside steps runs many times, and each
    /// step may run more than once (see <see cref="IDurableFunction{TEvent}"/>).
    /// </param>
    /// <param name="configure">Sets the name, triggers and retries.</param>
    /// <returns>This builder.</returns>
    public DurableFunctionsBuilder AddFunction<TEvent>(
        string id,
        Func<FunctionContext<TEvent>, CancellationToken, Task<object?>> handler,
        Action<FunctionOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(handler);
        var options = new FunctionOptions();
        configure?.Invoke(options);
        Add(id, options, typeof(TEvent), invocation => handler(CreateContext<TEvent>(invocation), invocation.CancellationToken));
        return this;
    }

    /// <summary>Registers a function written as a lambda that returns nothing (its output is null).</summary>
    /// <typeparam name="TEvent">The type of the triggering event's <c>data</c>.</typeparam>
    /// <param name="id">The function id.</param>
    /// <param name="handler">The function body; it replays from the top on every call.</param>
    /// <param name="configure">Sets the name, triggers and retries.</param>
    /// <returns>This builder.</returns>
    public DurableFunctionsBuilder AddFunction<TEvent>(
        string id,
        Func<FunctionContext<TEvent>, CancellationToken, Task> handler,
        Action<FunctionOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return AddFunction<TEvent>(
            id,
            async (context, cancellationToken) =>
            {
                await handler(context, cancellationToken);
                return null;
            },
            configure);
    }

    private void Add(string id, FunctionOptions options, Type eventType, Func<FunctionInvocation, Task<object?>> invoke)
    {
        if (options.Triggers.Count == 0 && EventNames.Find(eventType) is { } eventName)
        {
            options.OnEvent(eventName);
        }

        if (options.Triggers.Count == 0)
        {
            throw new InvalidOperationException(
                $"The durable function \"{id}\" has no trigger: give its event type an [EventName] attribute, or add an event or cron trigger.");
        }

        if (options.Retries is < 0 or > 20)
        {
            throw new InvalidOperationException($"The durable function \"{id}\" has {options.Retries} retries; allowed: 0 to 20.");
        }

        _catalog.Add(new RegisteredFunction
        {
            Id = id,
            Name = options.Name,
            Triggers = options.Triggers.ToList(),
            Retries = options.Retries,
            Invoke = invoke,
        });
        if (options.Failure is { } failure)
        {
            if (failure.Retries is < 0 or > 20)
            {
                throw new InvalidOperationException($"The failure handler of \"{id}\" has {failure.Retries} retries; allowed: 0 to 20.");
            }

            if (failure.HandlerType is { } handlerType)
            {
                Services.TryAddTransient(handlerType);
            }

            // The JS SDK's onFailure: a second function, "<id>-failure", named "<name> (failure)" (protocol.md §6.4).
            _catalog.Add(new RegisteredFunction
            {
                Id = id + "-failure",
                Name = $"{options.Name ?? id} (failure)",
                Triggers = [FunctionTrigger.FailureOfFunction(id)],
                Retries = failure.Retries,
                Invoke = failure.Invoke,
            });
        }
    }

    private static Func<FunctionInvocation, Task<object?>> CreateClassInvoker<TFunction, TEvent>()
        where TFunction : class, IDurableFunction<TEvent> =>
        invocation =>
        {
            var function = invocation.Services.GetRequiredService<TFunction>();
            return function.RunAsync(CreateContext<TEvent>(invocation), invocation.CancellationToken);
        };

    private static FunctionContext<TEvent> CreateContext<TEvent>(FunctionInvocation invocation) =>
        new(
            EventReader.Read<TEvent>(invocation.Event, invocation.Json),
            invocation.Step,
            invocation.Run,
            invocation.Logger,
            invocation.Services);
}
