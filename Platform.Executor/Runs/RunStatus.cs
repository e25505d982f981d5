namespace Platform.Executor.Runs;

/// <summary>The states of a run. Stored by name; the same words appear in the API and the dashboard.</summary>
public enum RunStatus
{
    /// <summary>Created, not yet picked up by a worker.</summary>
    Queued,
    /// <summary>A worker is calling the app, or a retry is pending.</summary>
    Running,
    /// <summary>Waiting for a <c>step.sleep</c> to elapse.</summary>
    Sleeping,
    /// <summary>Waiting for an event (<c>step.waitForEvent</c>).</summary>
    Waiting,
    Completed,
    Failed,
    Cancelled,
}

public static class RunStatuses
{
    public static bool IsFinal(this RunStatus status) => status is RunStatus.Completed or RunStatus.Failed or RunStatus.Cancelled;

    public static bool TryParse(string? text, out RunStatus status) =>
        Enum.TryParse(text, ignoreCase: true, out status) && Enum.IsDefined(status);

    /// <summary>SQL list of the statuses a run can still move from.</summary>
    public const string MovableSql = "('Queued','Running','Sleeping','Waiting')";
}
