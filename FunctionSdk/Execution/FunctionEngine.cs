using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Functions;
using Microsoft.Extensions.Logging;

namespace FunctionSdk.Execution;

/// <summary>
/// Turns (function, call request) into a <see cref="CallResult"/>. No HTTP: the endpoint parses and verifies
/// the request and maps the result to a reply.
/// </summary>
internal static class FunctionEngine
{
    public static async Task<CallResult> ExecuteAsync(
        RegisteredFunction function,
        CallRequest request,
        IServiceProvider services,
        ExecutionSettings settings,
        ILogger logger,
        CancellationToken cancellationToken)
    {
        if (request.UseApi)
        {
            return new FunctionFailed(
                Error("Error", "The call asks the SDK to load its state from the platform API (ctx.use_api), which inngest-dotnet does not support; send events and steps in the call body."),
                Final: true);
        }

        if (RejectedEvent(function, request) is { } rejected)
        {
            return new FunctionFailed(Error("EventValidationError", $"Event not found in triggers: {rejected}"), Final: true);
        }

        var execution = new Execution(request, settings);
        var invocation = new FunctionInvocation(
            request.Event,
            new StepTools(execution),
            new RunInfo(request.RunId, function.Id, request.Attempt, request.MaxAttempts),
            new ReplayAwareLogger(logger, () => execution.IsReplaying),
            services,
            settings.Json,
            cancellationToken);

        return await execution.RunAsync(
            async () =>
            {
                var output = await function.Invoke(invocation);
                return output is null ? null : JsonSerializer.SerializeToNode(output, output.GetType(), settings.Json);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The JS SDK refuses to run a function for an event none of its triggers names (protocol.md §9.4).</summary>
    private static string? RejectedEvent(RegisteredFunction function, CallRequest request)
    {
        var events = request.Events.Count > 0 ? request.Events : [request.Event];
        foreach (var @event in events)
        {
            var name = @event.ValueKind == JsonValueKind.Object && @event.TryGetProperty("name", out var n) &&
                       n.ValueKind == JsonValueKind.String
                ? n.GetString()!
                : "";
            if (name != FunctionTrigger.InvokedEvent && !function.Triggers.Any(t => t.Admits(name)))
            {
                return name;
            }
        }

        return null;
    }

    private static JsonObject Error(string name, string message) => new()
    {
        ["name"] = name,
        ["message"] = message,
        ["stack"] = $"{name}: {message}",
        ["__serialized"] = true,
    };
}
