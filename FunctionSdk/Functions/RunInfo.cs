namespace FunctionSdk;

/// <summary>Facts about the current run and call.</summary>
/// <param name="RunId">The run id, the same on every call of the run.</param>
/// <param name="FunctionId">The function id as registered in the app (without the app id prefix).</param>
/// <param name="Attempt">
/// The 0-based attempt of this call: it counts retries of the current step (or of the function code), and
/// starts again at 0 for the next step.
/// </param>
/// <param name="MaxAttempts">Retries + 1, when the platform sent it; the last attempt is <c>MaxAttempts - 1</c>.</param>
public sealed record RunInfo(string RunId, string FunctionId, int Attempt, int? MaxAttempts);
