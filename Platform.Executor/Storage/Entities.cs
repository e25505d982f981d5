namespace Platform.Executor.Storage;

// The tables. Vocabulary (App, Function, Event, Run, Step, Attempt) is the same from here to the UI.
// JSON payloads are jsonb columns mapped as strings: we never need EF to look inside them, and a string
// round-trips the bytes we were given.

/// <summary>An app: one URL that serves a set of functions, registered by <c>POST /fn/register</c>.</summary>
public sealed class AppRecord
{
    public Guid Id { get; set; }
    /// <summary>The app id the SDK sends as <c>appName</c>; prefix of every function slug.</summary>
    public required string Name { get; set; }
    public required string Url { get; set; }
    public string? Sdk { get; set; }
    public string? Framework { get; set; }
    public string? AppVersion { get; set; }
    public required string Checksum { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset SyncedAt { get; set; }
}

/// <summary>A function of an app, with its full config as the SDK sent it.</summary>
public sealed class FunctionRecord
{
    public Guid Id { get; set; }
    public Guid AppId { get; set; }
    /// <summary>Composite id <c>&lt;appName&gt;-&lt;fnId&gt;</c> (the <c>fnId</c> query parameter of calls).</summary>
    public required string Slug { get; set; }
    public required string Name { get; set; }
    /// <summary>The step URL without <c>fnId</c>/<c>stepId</c> (they are added per call).</summary>
    public required string Url { get; set; }
    /// <summary>Number of retries after the first attempt (<c>steps.step.retries.attempts</c>).</summary>
    public int Retries { get; set; }
    /// <summary>jsonb: the triggers array.</summary>
    public required string Triggers { get; set; }
    /// <summary>jsonb: the whole function config (flow control, cancel, timeouts, ...), kept for later features.</summary>
    public required string Config { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>Set when a sync no longer lists the function; its runs stay readable.</summary>
    public DateTimeOffset? ArchivedAt { get; set; }
}

/// <summary>A received event. <see cref="Id"/> is ours (a ULID); <see cref="EventId"/> is the sender's idempotency key.</summary>
public sealed class EventRecord
{
    public required string Id { get; set; }
    public required string EventId { get; set; }
    public required string Name { get; set; }
    /// <summary>jsonb object.</summary>
    public required string Data { get; set; }
    public long Ts { get; set; }
    public string? V { get; set; }
    /// <summary>jsonb, may be null.</summary>
    public string? User { get; set; }
    public DateTimeOffset ReceivedAt { get; set; }
}

/// <summary>The 24-hour dedupe window of event ids: one row per sender id, taken over once expired.</summary>
public sealed class EventDedupeRecord
{
    public required string EventId { get; set; }
    public required string InternalId { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
}

/// <summary>A run of a function, started by an event.</summary>
public sealed class RunRecord
{
    public required string Id { get; set; }
    public Guid FunctionId { get; set; }
    /// <summary>Our id of the triggering event; unique with <see cref="FunctionId"/> among runs that are not reruns.</summary>
    public required string EventId { get; set; }
    /// <summary>Set on a rerun: the run it reran (same function, same event).</summary>
    public string? RerunOfRunId { get; set; }
    /// <summary>Set on a rerun from a step: the step of <see cref="RerunOfRunId"/> it started from (the steps before it were copied).</summary>
    public string? RerunFromStepId { get; set; }
    public required string Status { get; set; }
    /// <summary>Fencing token: bumped by every claim and every commit.</summary>
    public long Version { get; set; }
    public string? LeaseOwner { get; set; }
    public DateTimeOffset? LeaseUntil { get; set; }
    /// <summary>When the run should next be driven (null once final).</summary>
    public DateTimeOffset? NextWakeAt { get; set; }
    /// <summary>When a dispatch was last handed to the queue; the sweeper only re-dispatches stale ones.</summary>
    public DateTimeOffset? DispatchedAt { get; set; }
    /// <summary>Re-dispatches by the sweeper since the run last made progress.</summary>
    public int Recoveries { get; set; }
    /// <summary>Bumped by anything outside the lease holder that wants the run driven again (a matched wait).</summary>
    public long WakeSeq { get; set; }
    /// <summary>jsonb: the state machine's snapshot (<c>RunState</c>).</summary>
    public required string State { get; set; }
    /// <summary>jsonb: the function's return value once Completed.</summary>
    public string? Output { get; set; }
    /// <summary>jsonb: the error once Failed.</summary>
    public string? Error { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
}

/// <summary>A memoized step: written once, never changed. The stack order is <see cref="Seq"/>.</summary>
public sealed class StepRecord
{
    public required string RunId { get; set; }
    /// <summary>The hashed step id (40 hex from the SDK).</summary>
    public required string StepId { get; set; }
    public required string Name { get; set; }
    public string? DisplayName { get; set; }
    /// <summary>The opcode that produced it: StepRun, StepFailed, Sleep, WaitForEvent, ...</summary>
    public required string Op { get; set; }
    /// <summary>jsonb: exactly what later calls send back in <c>steps[id]</c>.</summary>
    public required string Output { get; set; }
    public required byte[] OutputSha256 { get; set; }
    public long Seq { get; set; }
    /// <summary>Attempts it took (1 = first try).</summary>
    public int Attempts { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset CompletedAt { get; set; }
    /// <summary>Set on a step a rerun copied instead of executing: the run that executed it.</summary>
    public string? CopiedFromRunId { get; set; }
}

/// <summary>One failed attempt of a step or of a function call, kept for the run's history.</summary>
public sealed class AttemptRecord
{
    public long Id { get; set; }
    public required string RunId { get; set; }
    /// <summary>Hashed step id, or <c>step</c> for a discovery call.</summary>
    public required string StepId { get; set; }
    public string? StepName { get; set; }
    public int Attempt { get; set; }
    /// <summary>jsonb error.</summary>
    public required string Error { get; set; }
    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset EndedAt { get; set; }
    public DateTimeOffset? RetryAt { get; set; }
}

/// <summary>A pending <c>step.waitForEvent</c>; consumed atomically (DELETE) by a match or by the timeout.</summary>
public sealed class WaitRecord
{
    public Guid Id { get; set; }
    public required string RunId { get; set; }
    public required string StepId { get; set; }
    public required string EventName { get; set; }
    public string? Expression { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    /// <summary>
    /// Set for a <c>step.invoke</c>: the run it started. That run's final commit consumes this row and stores the
    /// step's value; ingest never matches such a row against events.
    /// </summary>
    public string? InvokedRunId { get; set; }
    /// <summary>The step's name, for the step row written when the wait resolves from outside the run.</summary>
    public string? StepName { get; set; }
}

/// <summary>
/// One row per run that ended, written in the transaction that ended it: the lifecycle events of the run
/// (<c>inngest/function.finished</c>, <c>.failed</c>, <c>.cancelled</c>) are still to be sent while
/// <see cref="PublishedAt"/> is null. The row stays afterwards, so a repeated write of the end cannot send them twice.
/// </summary>
public sealed class RunOutboxRecord
{
    public required string RunId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? PublishedAt { get; set; }
}

/// <summary>A cron tick that fired: unique per (function, tick), so one process of many starts its run.</summary>
public sealed class CronTickRecord
{
    public Guid FunctionId { get; set; }
    public DateTimeOffset TickAt { get; set; }
    public required string RunId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// A function's <c>idempotency</c> key (the SHA-256 of the key expression's value) in its 24-hour window: the run it
/// let through. Taken over once expired, like <see cref="EventDedupeRecord"/>.
/// </summary>
public sealed class IdempotencyKeyRecord
{
    public Guid FunctionId { get; set; }
    public required string Key { get; set; }
    public required string RunId { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
}
