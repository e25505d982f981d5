using System.Text.Json;
using Platform.Executor.Runs;

namespace Platform.Executor.Queries;

// What the management API and the dashboard read. One vocabulary: App, Function, Event, Run, Step, Attempt.

public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

public sealed record AppDto(Guid Id, string Name, string Url, string? Sdk, string? Framework, string? AppVersion,
    DateTimeOffset CreatedAt, DateTimeOffset SyncedAt, int FunctionCount);

public sealed record FunctionDto(Guid Id, string Slug, string Name, string AppName, string Url, int Retries,
    JsonElement Triggers, JsonElement Config, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, bool Archived);

public sealed record EventDto(string Id, string EventId, string Name, JsonElement Data, long Ts, string? V, DateTimeOffset ReceivedAt);

public sealed record RunSummaryDto(string Id, string Status, string FunctionSlug, string FunctionName, string EventId,
    string EventName, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt, DateTimeOffset? EndedAt);

/// <summary>A failed attempt of a step (or of the function call itself, step id <c>step</c>).</summary>
public sealed record AttemptDto(int Attempt, JsonElement Error, DateTimeOffset At, DateTimeOffset? RetryAt);

/// <summary>
/// A step of a run. <see cref="Status"/>: Completed, Failed, Sleeping, Waiting, Running (planned or retrying).
/// <see cref="IdempotencyKey"/> is <c>{runId}:{stepId}</c>, the key the SDK hands to user code.
/// </summary>
public sealed record StepDto(string StepId, string Name, string Op, string Status, int Attempts, JsonElement? Output,
    JsonElement? Error, DateTimeOffset? StartedAt, DateTimeOffset? CompletedAt, DateTimeOffset? DueAt,
    string IdempotencyKey, IReadOnlyList<AttemptDto> FailedAttempts)
{
    /// <summary>
    /// On a rerun from a step: the run that executed this step, whose stored result the rerun copied instead of
    /// executing it again (its times and attempts are that run's). Null for a step this run executed.
    /// </summary>
    public string? CopiedFrom { get; init; }
}

/// <summary>
/// A run in full. <see cref="RerunOf"/> is the run this one reran (same function and event), and
/// <see cref="RerunFromStep"/> the step of that run it started from (null: every step ran again);
/// <see cref="Reruns"/> are the reruns of this run, oldest first.
/// </summary>
public sealed record RunDetailDto(string Id, string Status, string FunctionSlug, string FunctionName, Guid FunctionId,
    EventDto Event, JsonElement? Output, JsonElement? Error, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt, DateTimeOffset? NextWakeAt, IReadOnlyList<StepDto> Steps, IReadOnlyList<AttemptDto> FunctionAttempts)
{
    public string? RerunOf { get; init; }

    public RerunFromStepDto? RerunFromStep { get; init; }

    public IReadOnlyList<string> Reruns { get; init; } = [];
}

/// <summary>The step a rerun started from: its hashed id and its name as the original run stored it.</summary>
public sealed record RerunFromStepDto(string StepId, string? Name);

public sealed record RunFilter(IReadOnlyList<string>? Statuses, string? Function, DateTimeOffset? From, DateTimeOffset? To, string? Cursor, int Limit)
{
    /// <summary>Only runs of this app's functions (the app's id, its <c>appName</c>).</summary>
    public string? App { get; init; }

    /// <summary>
    /// Text the run's event data or its output contains (case-insensitive). A search reads at most
    /// <see cref="PlatformQueries.SearchBudget"/> runs (those matching the other filters, newest first) per page.
    /// </summary>
    public string? Search { get; init; }
}

/// <summary>
/// Runs per status under a filter, each counted up to <see cref="Cap"/>: a count equal to the cap means "at least".
/// <see cref="All"/> is counted the same way (not summed), so it is exact below the cap too.
/// </summary>
public sealed record RunCounts(IReadOnlyDictionary<RunStatus, long> ByStatus, long All, long Cap)
{
    public bool IsCapped(long count) => count >= Cap;
}

/// <summary>Runs of a function created in the last hour and the last day, by status.</summary>
public sealed record FunctionStatsDto(string Slug, RunWindowDto LastHour, RunWindowDto LastDay);

/// <summary>
/// Runs created in a window: all, finished (Completed, Failed, Cancelled) and failed. <see cref="FailureRate"/> is
/// failed / finished, null while none finished.
/// </summary>
public sealed record RunWindowDto(long Runs, long Finished, long Failed)
{
    public double? FailureRate => Finished == 0 ? null : (double)Failed / Finished;
}

/// <summary>
/// What the store knows about an app's health: its last sync, and its last failed call (the newest failed attempt of
/// its functions among the platform's recent attempts) against its last run that completed.
/// </summary>
public sealed record AppHealthDto(string App, DateTimeOffset SyncedAt, DateTimeOffset? LastErrorAt, string? LastError, DateTimeOffset? LastCompletedAt)
{
    /// <summary>True when the app's latest known call failed: an error newer than its last completed run.</summary>
    public bool Failing => LastErrorAt is { } e && (LastCompletedAt is not { } c || e > c);
}
