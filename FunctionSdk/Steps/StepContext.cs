namespace FunctionSdk;

/// <summary>Facts about the step being run, passed to a step body.</summary>
/// <param name="RunId">The run id.</param>
/// <param name="StepId">The step id as written (with <c>:n</c> appended for a repeated id).</param>
/// <param name="HashedId">The step's wire id: lowercase hex SHA-1 of <paramref name="StepId"/>.</param>
/// <param name="Attempt">The 0-based attempt of this step.</param>
public sealed record StepContext(string RunId, string StepId, string HashedId, int Attempt)
{
    /// <summary>
    /// <c>{runId}:{hashedStepId}</c>: the same on every attempt of this step in this run and different for
    /// every other step. Pass it as the idempotency key of a side effect (payment, email, write) so a step
    /// that runs twice has its effect once.
    /// </summary>
    public string IdempotencyKey => $"{RunId}:{HashedId}";
}
