using System.Text.Json;
using Npgsql;
using Platform.Executor.Storage;

namespace Platform.Executor.Events;

/// <summary>An event trigger of a function: an exact name or a <c>prefix/*</c> wildcard, with an optional CEL filter.</summary>
public sealed record EventTrigger(string Event, bool IsPrefix, string? Expression)
{
    public bool Matches(string name) => IsPrefix ? name.StartsWith(Event, StringComparison.Ordinal) : name == Event;

    public static EventTrigger Parse(string name, string? expression) =>
        name.EndsWith('*') ? new EventTrigger(name[..^1], true, expression) : new EventTrigger(name, false, expression);
}

/// <summary>
/// A <c>cancel</c> entry of a function's config (protocol.md §15.4): a later event matching <see cref="Match"/>
/// (its <c>Expression</c> is the entry's <c>if</c>, over <c>event</c> = the run's trigger and <c>async</c> = the new
/// event) cancels the function's runs that started at most <see cref="Timeout"/> ago (any age when null).
/// </summary>
public sealed record CancelRule(EventTrigger Match, TimeSpan? Timeout);

/// <summary>An active function as event matching needs it.</summary>
public sealed record TriggeredFunction(Guid Id, string Slug, IReadOnlyList<EventTrigger> Triggers)
{
    public IReadOnlyList<CancelRule> Cancel { get; init; } = [];

    /// <summary>Its cron triggers (<see cref="Scheduling.CronScheduler"/> fires them).</summary>
    public IReadOnlyList<Scheduling.CronSchedule> Crons { get; init; } = [];

    /// <summary>When the function was first registered: a cron does not fire ticks from before.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary><c>timeouts.start</c>: longest a run may wait before it starts; then it is cancelled.</summary>
    public TimeSpan? StartTimeout { get; init; }

    /// <summary><c>timeouts.finish</c>: longest a run may take once started; then it is cancelled.</summary>
    public TimeSpan? FinishTimeout { get; init; }

    /// <summary><c>idempotency</c>: a CEL key over the event; at most one run per key per 24 hours.</summary>
    public string? Idempotency { get; init; }
}

/// <summary>
/// The active functions and their event triggers, cached briefly. A sync in this process invalidates at once;
/// a sync in another process is seen within <see cref="MaxAge"/>.
/// </summary>
public sealed class FunctionRegistry(PlatformDatabase database, TimeProvider time)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(2);
    private volatile Snapshot? _snapshot;

    private sealed record Snapshot(IReadOnlyList<TriggeredFunction> Functions, long LoadedAt);

    public void Invalidate() => _snapshot = null;

    public async Task<IReadOnlyList<TriggeredFunction>> GetAsync(CancellationToken cancellationToken)
    {
        var snapshot = _snapshot;
        if (snapshot is not null && time.GetElapsedTime(snapshot.LoadedAt) < MaxAge)
        {
            return snapshot.Functions;
        }

        var functions = new List<TriggeredFunction>();
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            SELECT id, slug, triggers::text, (config->'cancel')::text, created_at,
                   config->'timeouts'->>'start', config->'timeouts'->>'finish', config->>'idempotency'
              FROM platform.functions WHERE archived_at IS NULL
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            functions.Add(new TriggeredFunction(reader.GetGuid(0), reader.GetString(1), ParseTriggers(reader.GetString(2)))
            {
                Cancel = reader.IsDBNull(3) ? [] : ParseCancel(reader.GetString(3)),
                Crons = ParseCrons(reader.GetString(2)),
                CreatedAt = reader.GetFieldValue<DateTimeOffset>(4),
                StartTimeout = Duration(reader.IsDBNull(5) ? null : reader.GetString(5)),
                FinishTimeout = Duration(reader.IsDBNull(6) ? null : reader.GetString(6)),
                Idempotency = reader.IsDBNull(7) || string.IsNullOrWhiteSpace(reader.GetString(7)) ? null : reader.GetString(7),
            });
        }

        _snapshot = new Snapshot(functions, time.GetTimestamp());
        return functions;
    }

    /// <summary>The <c>cancel</c> array of a config; entries without an event name or with a bad timeout are skipped (sync rejects them).</summary>
    public static IReadOnlyList<CancelRule> ParseCancel(string cancelJson)
    {
        using var doc = JsonDocument.Parse(cancelJson);
        var rules = new List<CancelRule>();
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            return rules;
        }

        foreach (var c in doc.RootElement.EnumerateArray())
        {
            if (c.ValueKind != JsonValueKind.Object || !c.TryGetProperty("event", out var e) || e.ValueKind != JsonValueKind.String || e.GetString() is not { Length: > 0 } name)
            {
                continue;
            }

            var expression = c.TryGetProperty("if", out var x) && x.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(x.GetString()) ? x.GetString() : null;
            TimeSpan? timeout = null;
            if (c.TryGetProperty("timeout", out var t) && t.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(t.GetString()))
            {
                if (!Protocol.TimeStrings.TryParseDuration(t.GetString(), out var span))
                {
                    continue;
                }

                timeout = span;
            }

            rules.Add(new CancelRule(EventTrigger.Parse(name, expression), timeout));
        }

        return rules;
    }

    /// <summary>A positive duration string, or null (absent, empty or invalid: sync rejects invalid ones).</summary>
    private static TimeSpan? Duration(string? text) =>
        Protocol.TimeStrings.TryParseDuration(text, out var span) && span > TimeSpan.Zero ? span : null;

    /// <summary>The cron triggers of a triggers array; invalid ones are skipped (sync rejects them).</summary>
    public static IReadOnlyList<Scheduling.CronSchedule> ParseCrons(string triggersJson)
    {
        using var doc = JsonDocument.Parse(triggersJson);
        var crons = new List<Scheduling.CronSchedule>();
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            return crons;
        }

        foreach (var t in doc.RootElement.EnumerateArray())
        {
            if (t.ValueKind == JsonValueKind.Object && t.TryGetProperty("cron", out var c) && c.ValueKind == JsonValueKind.String
                && Scheduling.CronSchedule.TryParse(c.GetString(), out var schedule, out _))
            {
                crons.Add(schedule!);
            }
        }

        return crons;
    }

    public static IReadOnlyList<EventTrigger> ParseTriggers(string triggersJson)
    {
        using var doc = JsonDocument.Parse(triggersJson);
        var triggers = new List<EventTrigger>();
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
        {
            return triggers;
        }

        foreach (var t in doc.RootElement.EnumerateArray())
        {
            if (t.ValueKind == JsonValueKind.Object && t.TryGetProperty("event", out var e) && e.ValueKind == JsonValueKind.String && e.GetString() is { Length: > 0 } name)
            {
                var expression = t.TryGetProperty("expression", out var x) && x.ValueKind == JsonValueKind.String ? x.GetString() : null;
                triggers.Add(EventTrigger.Parse(name, string.IsNullOrWhiteSpace(expression) ? null : expression));
            }
        }

        return triggers;
    }
}
