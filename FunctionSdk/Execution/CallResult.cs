using System.Text.Json.Nodes;

namespace FunctionSdk.Execution;

/// <summary>What the engine decided for one call; the endpoint maps it to HTTP (protocol.md §10.1).</summary>
internal abstract record CallResult;

/// <summary>The function returned: 200 with its output.</summary>
internal sealed record FunctionReturned(JsonNode? Output) : CallResult;

/// <summary>
/// Steps to report or a step that ran: 206 with the ops. <see cref="NoRetry"/> is set when an op is a step
/// error (<c>X-Inngest-No-Retry</c>); <see cref="RetryAfter"/> is the <c>Retry-After</c> header.
/// </summary>
internal sealed record OpsReturned(IReadOnlyList<Op> Ops, bool? NoRetry = null, string? RetryAfter = null) : CallResult;

/// <summary>The function threw: 400 and no retry when <see cref="Final"/>, else 500 and retry.</summary>
internal sealed record FunctionFailed(JsonObject Error, bool Final, string? RetryAfter = null) : CallResult;

/// <summary>The requested step was not reached (code changed since it was planned): 500, retry.</summary>
internal sealed record StepNotFound(JsonObject Body) : CallResult;
