using System.Text.Json;
using FunctionSdk.Functions;

namespace FunctionSdk.Testing;

/// <summary>
/// A run of a function in the <see cref="DurableTestHost"/>: its status, output or error, and the steps stored so
/// far. The host drives runs whenever the test calls it, so the properties are up to date once a host call
/// (<c>SendAsync</c>, <c>AdvanceTimeAsync</c>, ...) has returned.
/// </summary>
public sealed class TestRun
{
    private readonly DurableTestHost _host;
    private readonly List<TestStep> _steps = [];

    internal TestRun(DurableTestHost host, string id, RegisteredFunction function, JsonElement @event, int maxAttempts, InvokeParent? parent)
    {
        _host = host;
        Id = id;
        Function = function;
        EventJson = @event;
        MaxAttempts = maxAttempts;
        Parent = parent;
        Event = new TestEvent(
            @event.GetProperty("id").GetString()!,
            @event.GetProperty("name").GetString()!,
            @event.GetProperty("data").Clone(),
            DateTimeOffset.FromUnixTimeMilliseconds(@event.GetProperty("ts").GetInt64()));
        Items.Add(PendingItem.Discovery(0));
    }

    /// <summary>The run id (the first half of every step's idempotency key).</summary>
    public string Id { get; }

    /// <summary>The function's id as registered in the app (without the app id prefix).</summary>
    public string FunctionId => Function.Id;

    /// <summary>The event that started the run (<c>inngest/function.invoked</c> for an invoke, <c>inngest/scheduled.timer</c> for cron).</summary>
    public TestEvent Event { get; }

    /// <summary>Where the run stands.</summary>
    public TestRunStatus Status => Finished is { } finished
        ? finished
        : Items.Any(i => i.Kind is PendingKind.Discovery or PendingKind.Step)
            ? TestRunStatus.Running
            : Items.Any(i => i.Kind is PendingKind.Wait or PendingKind.Invoke)
                ? TestRunStatus.Waiting
                : TestRunStatus.Sleeping;

    /// <summary>What the function returned, once <see cref="Status"/> is <see cref="TestRunStatus.Completed"/>.</summary>
    public JsonElement? Output { get; private set; }

    /// <summary>Why the run failed, once <see cref="Status"/> is <see cref="TestRunStatus.Failed"/>.</summary>
    public TestError? Error { get; private set; }

    /// <summary>The stored steps, in the order they completed.</summary>
    public IReadOnlyList<TestStep> Steps => _steps.ToList();

    /// <summary>How many times the host called the function for this run (each call replays it from the top).</summary>
    public int CallCount { get; internal set; }

    internal RegisteredFunction Function { get; }

    internal JsonElement EventJson { get; }

    internal int MaxAttempts { get; }

    internal InvokeParent? Parent { get; }

    internal TestRunStatus? Finished { get; private set; }

    internal bool DisableImmediateExecution { get; set; }

    internal Dictionary<string, JsonElement> Memos { get; } = new(StringComparer.Ordinal);

    internal List<string> Stack { get; } = [];

    internal List<PendingItem> Items { get; } = [];

    internal Dictionary<string, int> Attempts { get; } = new(StringComparer.Ordinal);

    /// <summary>The stored step with this id (as written, <c>item:1</c> for a repeat).</summary>
    /// <param name="id">The step id.</param>
    /// <returns>The step.</returns>
    /// <exception cref="InvalidOperationException">No step with that id is stored (the message lists the stored ones).</exception>
    public TestStep GetStep(string id) =>
        _steps.Find(s => s.Id == id) ?? throw new InvalidOperationException(
            $"Run {Id} of \"{FunctionId}\" has no stored step \"{id}\"; stored: {(_steps.Count == 0 ? "none" : string.Join(", ", _steps.Select(s => $"\"{s.Id}\"")))}.");

    /// <summary>The output read as <typeparamref name="T"/> (System.Text.Json, web defaults).</summary>
    /// <typeparam name="T">The type to read.</typeparam>
    /// <returns>The output.</returns>
    /// <exception cref="InvalidOperationException">The run has not completed (the message says where it stands or why it failed).</exception>
    public T? GetOutput<T>()
    {
        if (Finished != TestRunStatus.Completed)
        {
            throw new InvalidOperationException($"Run {Id} of \"{FunctionId}\" has no output: {Describe()}.");
        }

        return Output is { } output ? output.Deserialize<T>(DurableTestHost.Json) : default;
    }

    /// <summary>
    /// Lets the host run everything it can (steps, retries, skipped sleeps, other runs), then returns this run once
    /// it has finished, completed or failed.
    /// </summary>
    /// <param name="cancellationToken">Cancels the drive.</param>
    /// <returns>This run.</returns>
    /// <exception cref="InvalidOperationException">
    /// The run cannot finish without the test's help: it waits for an event (send it with
    /// <see cref="DurableTestHost.SendAsync{T}(T, string?, CancellationToken)"/>) or for a timeout or sleep (move the clock with
    /// <see cref="DurableTestHost.AdvanceTimeAsync"/>). The message says which step it waits on.
    /// </exception>
    public async Task<TestRun> WaitForCompletionAsync(CancellationToken cancellationToken = default)
    {
        await _host.RunUntilIdleAsync(cancellationToken).ConfigureAwait(false);
        if (Finished is null)
        {
            throw new InvalidOperationException(
                $"Run {Id} of \"{FunctionId}\" cannot finish without input: {Describe()}. Send the event it waits for with " +
                "DurableTestHost.SendAsync, or move the clock past the timeout with DurableTestHost.AdvanceTimeAsync.");
        }

        return this;
    }

    /// <inheritdoc />
    public override string ToString() => $"Run {Id} of \"{FunctionId}\": {Describe()}";

    internal void Store(string hashedId, string id, TestStepKind kind, JsonElement memo)
    {
        Memos[hashedId] = memo;
        Stack.Add(hashedId);
        var attempts = Math.Max(1, Attempts.GetValueOrDefault(hashedId));
        JsonElement? error = FunctionSdk.Execution.StepTools.IsOnly(memo, "error", out var stored) ? stored : null;
        JsonElement? output = error is not null
            ? null
            : FunctionSdk.Execution.StepTools.IsOnly(memo, "data", out var data)
                ? data
                : memo.ValueKind == JsonValueKind.Null ? null : memo;
        _steps.Add(new TestStep(id, hashedId, kind, output, error is { } e ? TestError.From(e) : null, attempts));
    }

    internal void Complete(JsonElement? output)
    {
        Finished = TestRunStatus.Completed;
        Output = output;
        Items.Clear();
    }

    internal void Fail(TestError error)
    {
        Finished = TestRunStatus.Failed;
        Error = error;
        Items.Clear();
    }

    internal string Describe() => Finished switch
    {
        TestRunStatus.Completed => "it completed",
        TestRunStatus.Failed => $"it failed with {Error!.Name}: {Error.Message}",
        _ => string.Join("; ", Items.Select(i => i.Describe(_host.UtcNow))) is { Length: > 0 } pending ? pending : "it has nothing pending",
    };
}

/// <summary>The run and step waiting for an invoked run's result.</summary>
internal sealed record InvokeParent(TestRun Run, string HashedId);

internal enum PendingKind
{
    Discovery,
    Step,
    Sleep,
    Wait,
    Invoke,
}

/// <summary>Something a run waits on: a call to make, a sleep, a wait for an event, an invoked run.</summary>
internal sealed record PendingItem
{
    public required PendingKind Kind { get; init; }

    /// <summary>The hashed step id; <c>step</c> for a discovery call.</summary>
    public required string HashedId { get; init; }

    /// <summary>The step id as written (for messages and <see cref="TestStep.Id"/>).</summary>
    public required string Id { get; init; }

    public TestStepKind StepKind { get; init; }

    public int Attempt { get; init; }

    /// <summary>When a sleep ends, or a wait or invoke times out.</summary>
    public DateTimeOffset? DueAt { get; init; }

    public string? EventName { get; init; }

    public string? Expression { get; init; }

    public TestRun? Child { get; init; }

    public static PendingItem Discovery(int attempt) =>
        new() { Kind = PendingKind.Discovery, HashedId = Protocol.StepIds.Discovery, Id = "(discovery)", Attempt = attempt };

    public string Describe(DateTimeOffset now) => Kind switch
    {
        PendingKind.Discovery => "a call of the function is pending",
        PendingKind.Step => $"step \"{Id}\" is pending (attempt {Attempt + 1})",
        PendingKind.Sleep => $"step \"{Id}\" sleeps until {DueAt:O} (now {now:O})",
        PendingKind.Wait => $"step \"{Id}\" waits for event \"{EventName}\"{(Expression is null ? "" : $" matching `{Expression}`")} until {DueAt:O} (now {now:O})",
        _ => $"step \"{Id}\" waits for the invoked run {Child?.Id} of \"{Child?.FunctionId}\" ({Child?.Describe()})",
    };
}
