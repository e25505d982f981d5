using System.Text.Json;
using Npgsql;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;
using Platform.Executor.Scheduling;
using Platform.Executor.Storage;

namespace Platform.Executor.Events;

/// <summary>An event as validated from a send.</summary>
public sealed record IncomingEvent(string Name, string DataJson, string? Id, long Ts, string? V, string? UserJson);

/// <summary>What storing events moved: runs to dispatch once committed, and how many runs they cancelled.</summary>
public sealed record IngestEffects(List<string> Dispatch, int Cancelled);

/// <summary>The outcome of a send: our ids in input order, or a 4xx with what is wrong.</summary>
public sealed record IngestResult(IReadOnlyList<string> Ids, int Status, string? Error, IReadOnlyList<string> RunIds)
{
    public static IngestResult Invalid(int status, string error) => new([], status, error, []);
}

/// <summary>
/// Event ingest (reliability.md §2.2): in one transaction, claim each event id in the 24-hour dedupe window,
/// store the new events, create one run per matching function (unique per function and event), and hand
/// matching events to the runs waiting for them. The caller answers only after this commits.
/// </summary>
public sealed class EventIngest(
    PlatformDatabase database,
    FunctionRegistry registry,
    Expressions expressions,
    DispatchQueue dispatchQueue,
    LifecycleSignal lifecycle,
    RunChangeNotifier changes,
    TimeProvider time)
{
    public const int MaxEventsPerRequest = 5000;
    public const int MaxEventBytes = 512 * 1024;
    public const int MaxNameLength = 256;
    public static readonly TimeSpan DedupeWindow = TimeSpan.FromHours(24);

    /// <summary>A function's <c>idempotency</c> key lets one run through per this window (Inngest: 24 hours).</summary>
    public static readonly TimeSpan IdempotencyWindow = TimeSpan.FromHours(24);
    private static readonly JsonDocumentOptions s_json = new() { MaxDepth = 64 };

    /// <summary>Validates a request body. On success every event is checked; on failure nothing is stored.</summary>
    public static (List<IncomingEvent>? Events, string? Error) Parse(ReadOnlyMemory<byte> body, long nowMs)
    {
        // JsonDocument accepts invalid UTF-8 inside strings and throws only when the text is read.
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
        {
            return (null, "The body is not valid JSON: it is not valid UTF-8");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body, s_json);
        }
        catch (JsonException ex)
        {
            return (null, $"The body is not valid JSON: {ex.Message}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            var list = new List<IncomingEvent>();
            if (root.ValueKind == JsonValueKind.Object)
            {
                var (e, error) = ParseOne(root, "event", nowMs);
                return e is null ? (null, error) : ([e], null);
            }

            if (root.ValueKind != JsonValueKind.Array)
            {
                return (null, $"Expected an event object or an array of events, got a JSON {root.ValueKind.ToString().ToLowerInvariant()}");
            }

            var count = root.GetArrayLength();
            if (count == 0)
            {
                return (null, "The array of events is empty");
            }

            if (count > MaxEventsPerRequest)
            {
                return (null, $"Too many events in one request: {count}; the limit is {MaxEventsPerRequest}");
            }

            var i = 0;
            foreach (var element in root.EnumerateArray())
            {
                var (e, error) = ParseOne(element, $"events[{i}]", nowMs);
                if (e is null)
                {
                    return (null, error);
                }

                list.Add(e);
                i++;
            }

            return (list, null);
        }
    }

    private static (IncomingEvent? Event, string? Error) ParseOne(JsonElement e, string path, long nowMs)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return (null, $"{path}: expected an object, got a JSON {e.ValueKind.ToString().ToLowerInvariant()}");
        }

        var size = System.Text.Encoding.UTF8.GetByteCount(e.GetRawText());
        if (size > MaxEventBytes)
        {
            return (null, $"{path}: the event is {size} bytes; the limit is {MaxEventBytes}");
        }

        if (JsonSafety.FindUnstorable(e) is { } bad)
        {
            return (null, $"{path}: contains {bad}");
        }

        if (!e.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(name.GetString()))
        {
            return (null, $"{path}.name: required, a non-empty string");
        }

        var n = name.GetString()!;
        if (n.Length > MaxNameLength)
        {
            return (null, $"{path}.name: longer than {MaxNameLength} characters");
        }

        if (n.StartsWith("inngest/", StringComparison.OrdinalIgnoreCase))
        {
            return (null, $"{path}.name: names starting with 'inngest/' are reserved for events the platform sends");
        }

        var data = "{}";
        if (e.TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Null)
        {
            if (d.ValueKind != JsonValueKind.Object)
            {
                return (null, $"{path}.data: expected an object, got a JSON {d.ValueKind.ToString().ToLowerInvariant()}");
            }

            data = d.GetRawText();
        }

        string? id = null;
        if (e.TryGetProperty("id", out var idElement) && idElement.ValueKind != JsonValueKind.Null)
        {
            if (idElement.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(idElement.GetString()))
            {
                return (null, $"{path}.id: expected a non-empty string");
            }

            id = idElement.GetString()!;
            if (id.Length > MaxNameLength)
            {
                return (null, $"{path}.id: longer than {MaxNameLength} characters");
            }
        }

        var ts = nowMs;
        if (e.TryGetProperty("ts", out var tsElement) && tsElement.ValueKind != JsonValueKind.Null)
        {
            if (tsElement.ValueKind != JsonValueKind.Number || !tsElement.TryGetInt64(out ts) || ts < 0)
            {
                return (null, $"{path}.ts: expected a non-negative integer (unix milliseconds)");
            }
        }

        string? v = null;
        if (e.TryGetProperty("v", out var vElement) && vElement.ValueKind != JsonValueKind.Null)
        {
            if (vElement.ValueKind != JsonValueKind.String)
            {
                return (null, $"{path}.v: expected a string");
            }

            v = vElement.GetString();
        }

        string? user = null;
        if (e.TryGetProperty("user", out var u) && u.ValueKind != JsonValueKind.Null)
        {
            if (u.ValueKind != JsonValueKind.Object)
            {
                return (null, $"{path}.user: expected an object");
            }

            user = u.GetRawText();
        }

        return (new IncomingEvent(n, data, id, ts, v, user), null);
    }

    /// <summary>Stores a validated send; returns after the commit.</summary>
    public async Task<IngestResult> IngestAsync(IReadOnlyList<IncomingEvent> events, string? idSeed, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var internalIds = new string[events.Count];
        var dedupeKeys = new string[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            internalIds[i] = Ulid.TryFromSeed(idSeed, i + 1, out var seeded) ? seeded : Ulid.New(now);
            dedupeKeys[i] = events[i].Id ?? internalIds[i];
        }

        // Within one send, the first event with an id wins; later copies answer with its id.
        var firstIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < events.Count; i++)
        {
            firstIndex.TryAdd(dedupeKeys[i], i);
        }

        var candidates = firstIndex.Values.Order().ToList();
        var functions = await registry.GetAsync(cancellationToken);

        var (accepted, existing, effects) = await database.RetryAsync(
            ct => StoreAsync(events, internalIds, dedupeKeys, candidates, functions, ct), cancellationToken);
        var runIds = effects.Dispatch;

        var ids = new string[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            var first = firstIndex[dedupeKeys[i]];
            ids[i] = accepted.Contains(first) ? internalIds[first] : existing.GetValueOrDefault(dedupeKeys[i], internalIds[first]);
        }

        dispatchQueue.Enqueue(runIds);
        if (runIds.Count > 0 || effects.Cancelled > 0)
        {
            changes.Changed(); // runs started, resumed or cancelled by these events (if we die first: the dashboard's next refresh)
        }

        if (effects.Cancelled > 0)
        {
            // The cancelled runs' lifecycle events are in the outbox; if we die before this, the publisher's poll sends them.
            lifecycle.Notify();
        }

        return new IngestResult(ids, 200, null, runIds);
    }

    private async Task<(HashSet<int> Accepted, Dictionary<string, string> Existing, IngestEffects Effects)> StoreAsync(
        IReadOnlyList<IncomingEvent> events,
        string[] internalIds,
        string[] dedupeKeys,
        List<int> candidates,
        IReadOnlyList<TriggeredFunction> functions,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        // 1. Claim the ids in the dedupe window. An expired claim is taken over; a live one means "duplicate".
        var accepted = new HashSet<int>();
        // The deferral rides in the same round trip: the runs this send starts or moves are announced after the commit.
        await using (var claim = new NpgsqlCommand($"""
            {RunChangeNotifier.DeferSql};
            INSERT INTO platform.event_dedupe (event_id, internal_id, expires_at)
            SELECT k, i, now() + @window FROM unnest(@keys, @ids) AS u(k, i)
            ON CONFLICT (event_id) DO UPDATE SET internal_id = excluded.internal_id, expires_at = excluded.expires_at
             WHERE platform.event_dedupe.expires_at < now()
            RETURNING event_id
            """, connection, tx))
        {
            claim.Parameters.AddWithValue("window", DedupeWindow);
            claim.Parameters.AddWithValue("keys", candidates.Select(i => dedupeKeys[i]).ToArray());
            claim.Parameters.AddWithValue("ids", candidates.Select(i => internalIds[i]).ToArray());
            var byKey = candidates.ToDictionary(i => dedupeKeys[i]);
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            await reader.NextResultAsync(cancellationToken); // past the deferral's row
            while (await reader.ReadAsync(cancellationToken))
            {
                accepted.Add(byKey[reader.GetString(0)]);
            }
        }

        var existing = new Dictionary<string, string>(StringComparer.Ordinal);
        var duplicates = candidates.Where(i => !accepted.Contains(i)).Select(i => dedupeKeys[i]).ToArray();
        if (duplicates.Length > 0)
        {
            await using var read = new NpgsqlCommand("SELECT event_id, internal_id FROM platform.event_dedupe WHERE event_id = ANY(@keys)", connection, tx);
            read.Parameters.AddWithValue("keys", duplicates);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                existing[reader.GetString(0)] = reader.GetString(1);
            }
        }

        var stored = accepted.Order().ToList();
        var effects = await InsertAsync(connection, tx, events, stored, internalIds, dedupeKeys, functions, cancellationToken);
        await tx.CommitAsync(cancellationToken);
        return (accepted, existing, effects);
    }

    /// <summary>
    /// Ingests events the platform itself sends (lifecycle events) inside the caller's transaction: no validation
    /// and no dedupe claim (the caller sends each exactly once), otherwise as a send: stored, runs started for the
    /// functions they trigger, runs cancelled, waits matched. Returns what the caller acts on once it has committed.
    /// </summary>
    public async Task<IngestEffects> IngestInternalAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<IncomingEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return new IngestEffects([], 0);
        }

        var now = time.GetUtcNow();
        var internalIds = events.Select(_ => Ulid.New(now)).ToArray();
        var dedupeKeys = events.Select((e, i) => e.Id ?? internalIds[i]).ToArray();
        var functions = await registry.GetAsync(cancellationToken);
        return await InsertAsync(connection, tx, events, [.. Enumerable.Range(0, events.Count)], internalIds, dedupeKeys, functions, cancellationToken);
    }

    /// <summary>Stores the events at <paramref name="stored"/>, starts the runs they trigger, cancels the runs they cancel, matches waits.</summary>
    private async Task<IngestEffects> InsertAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction tx,
        IReadOnlyList<IncomingEvent> events,
        List<int> stored,
        string[] internalIds,
        string[] dedupeKeys,
        IReadOnlyList<TriggeredFunction> functions,
        CancellationToken cancellationToken)
    {
        var runIds = new List<string>();
        var cancelled = 0;
        if (stored.Count > 0)
        {
            // 2. The events themselves. An id derived from a seed may already belong to another event (a client
            // that reused a seed for a different send): that event gets a fresh id rather than failing the send.
            var pending = stored;
            while (pending.Count > 0)
            {
                var inserted = new HashSet<string>(StringComparer.Ordinal);
                await using (var insert = new NpgsqlCommand("""
                    INSERT INTO platform.events (id, event_id, name, data, ts, v, "user", received_at)
                    SELECT u.id, u.event_id, u.name, u.data::jsonb, u.ts, u.v, u.usr::jsonb, now()
                      FROM unnest(@ids, @event_ids, @names, @data, @ts, @v, @users) AS u(id, event_id, name, data, ts, v, usr)
                    ON CONFLICT (id) DO NOTHING
                    RETURNING id
                    """, connection, tx))
                {
                    insert.Parameters.AddWithValue("ids", pending.Select(i => internalIds[i]).ToArray());
                    insert.Parameters.AddWithValue("event_ids", pending.Select(i => dedupeKeys[i]).ToArray());
                    insert.Parameters.AddWithValue("names", pending.Select(i => events[i].Name).ToArray());
                    insert.Parameters.AddWithValue("data", pending.Select(i => events[i].DataJson).ToArray());
                    insert.Parameters.AddWithValue("ts", pending.Select(i => events[i].Ts).ToArray());
                    insert.Parameters.AddWithValue("v", pending.Select(i => events[i].V).ToArray());
                    insert.Parameters.AddWithValue("users", pending.Select(i => events[i].UserJson).ToArray());
                    await using var reader = await insert.ExecuteReaderAsync(cancellationToken);
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        inserted.Add(reader.GetString(0));
                    }
                }

                pending = pending.Where(i => !inserted.Contains(internalIds[i])).ToList();
                if (pending.Count > 0)
                {
                    foreach (var i in pending)
                    {
                        internalIds[i] = Ulid.New(time.GetUtcNow());
                    }

                    await using var rename = new NpgsqlCommand("""
                        UPDATE platform.event_dedupe d SET internal_id = u.id FROM unnest(@keys, @ids) AS u(k, id) WHERE d.event_id = u.k
                        """, connection, tx);
                    rename.Parameters.AddWithValue("keys", pending.Select(i => dedupeKeys[i]).ToArray());
                    rename.Parameters.AddWithValue("ids", pending.Select(i => internalIds[i]).ToArray());
                    await rename.ExecuteNonQueryAsync(cancellationToken);
                }
            }

            // 3. One run per matching function; the unique (function, event) index makes a replayed send harmless. It is
            // partial (reruns are outside it), so the ON CONFLICT below names its predicate to infer it.
            var runFunctions = new List<Guid>();
            var runEvents = new List<string>();
            var runIdsToInsert = new List<string>();
            var keyed = new List<(Guid Function, string Key, string RunId)>();
            var now = time.GetUtcNow();
            foreach (var i in stored)
            {
                var e = events[i];
                Dictionary<string, object?>? celEvent = null;
                foreach (var f in functions)
                {
                    var matched = false;
                    foreach (var trigger in f.Triggers)
                    {
                        if (!trigger.Matches(e.Name))
                        {
                            continue;
                        }

                        if (trigger.Expression is null)
                        {
                            matched = true;
                            break;
                        }

                        celEvent ??= Expressions.EventVariable(e.Name, e.DataJson, dedupeKeys[i], e.Ts);
                        if (expressions.IsTrue(trigger.Expression, new Dictionary<string, object?> { ["event"] = celEvent }))
                        {
                            matched = true;
                            break;
                        }
                    }

                    if (!matched)
                    {
                        continue;
                    }

                    var runId = Ulid.New(now);
                    if (f.Idempotency is { } keyExpression)
                    {
                        celEvent ??= Expressions.EventVariable(e.Name, e.DataJson, dedupeKeys[i], e.Ts);
                        if (IdempotencyKey(keyExpression, celEvent) is { } key)
                        {
                            if (keyed.Any(k => k.Function == f.Id && k.Key == key))
                            {
                                // An earlier event of this send has the key: it gets the run.
                                continue;
                            }

                            keyed.Add((f.Id, key, runId));
                        }
                    }

                    runFunctions.Add(f.Id);
                    runEvents.Add(internalIds[i]);
                    runIdsToInsert.Add(runId);
                }
            }

            if (keyed.Count > 0)
            {
                // 3a. Idempotency: a key already taken in its window lets no run through.
                var refused = await ClaimIdempotencyKeysAsync(connection, tx, keyed, cancellationToken);
                for (var r = runIdsToInsert.Count - 1; r >= 0; r--)
                {
                    if (refused.Contains(runIdsToInsert[r]))
                    {
                        runIdsToInsert.RemoveAt(r);
                        runFunctions.RemoveAt(r);
                        runEvents.RemoveAt(r);
                    }
                }
            }

            if (runIdsToInsert.Count > 0)
            {
                await using var runs = new NpgsqlCommand("""
                    INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, dispatched_at, recoveries, wake_seq, state, created_at)
                    SELECT u.id, u.function_id, u.event_id, 'Queued', 0, now(), now(), 0, 0, @state::jsonb, now()
                      FROM unnest(@ids, @functions, @events) AS u(id, function_id, event_id)
                    ON CONFLICT (function_id, event_id) WHERE rerun_of_run_id IS NULL DO NOTHING
                    RETURNING id
                    """, connection, tx);
                runs.Parameters.AddWithValue("state", RunState.Start(DateTimeOffset.UnixEpoch).ToJson());
                runs.Parameters.AddWithValue("ids", runIdsToInsert.ToArray());
                runs.Parameters.AddWithValue("functions", runFunctions.ToArray());
                runs.Parameters.AddWithValue("events", runEvents.ToArray());
                await using var reader = await runs.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    runIds.Add(reader.GetString(0));
                }
            }

            // 4. Runs these events cancel (before waits: a cancelled run's waits are gone).
            var (cancelledRuns, woken) = await CancelRunsAsync(connection, tx, events, stored, dedupeKeys, functions, cancellationToken);
            cancelled = cancelledRuns.Count;
            runIds.AddRange(woken);

            // 5. Runs waiting for these events.
            runIds.AddRange(await MatchWaitsAsync(connection, tx, events, stored, internalIds, dedupeKeys, cancellationToken));
        }

        return new IngestEffects(runIds, cancelled);
    }

    /// <summary>
    /// A function's <c>idempotency</c> key for an event: the SHA-256 of the key expression's value as JSON. Null when
    /// the expression cannot be evaluated for this event or gives null (a missing field): the run is then not limited.
    /// </summary>
    private string? IdempotencyKey(string expression, Dictionary<string, object?> celEvent)
    {
        if (!expressions.TryEvaluate(expression, new Dictionary<string, object?> { ["event"] = celEvent }, out var value) || value is null)
        {
            return null;
        }

        string text;
        try
        {
            text = JsonSerializer.Serialize(value);
        }
        catch (NotSupportedException)
        {
            text = value?.ToString() ?? "null";
        }

        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>
    /// Claims (function, key) pairs for <see cref="IdempotencyWindow"/>; an expired claim is taken over. Returns the
    /// run ids whose key was already taken.
    /// </summary>
    private static async Task<HashSet<string>> ClaimIdempotencyKeysAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, List<(Guid Function, string Key, string RunId)> keyed, CancellationToken cancellationToken)
    {
        var accepted = new HashSet<string>(StringComparer.Ordinal);
        await using (var claim = new NpgsqlCommand("""
            INSERT INTO platform.idempotency_keys (function_id, key, run_id, expires_at)
            SELECT f, k, r, now() + @window FROM unnest(@functions, @keys, @runs) AS u(f, k, r)
            ON CONFLICT (function_id, key) DO UPDATE SET run_id = excluded.run_id, expires_at = excluded.expires_at
             WHERE platform.idempotency_keys.expires_at < now()
            RETURNING run_id
            """, connection, tx))
        {
            claim.Parameters.AddWithValue("window", IdempotencyWindow);
            claim.Parameters.AddWithValue("functions", keyed.Select(k => k.Function).ToArray());
            claim.Parameters.AddWithValue("keys", keyed.Select(k => k.Key).ToArray());
            claim.Parameters.AddWithValue("runs", keyed.Select(k => k.RunId).ToArray());
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                accepted.Add(reader.GetString(0));
            }
        }

        return keyed.Where(k => !accepted.Contains(k.RunId)).Select(k => k.RunId).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>
    /// The <c>cancel</c> config of functions (protocol.md §15.4): an event matching an entry cancels the function's runs
    /// that were created before it (not those it started itself), within the entry's timeout, for which the entry's
    /// <c>if</c> holds with <c>event</c> = the run's trigger and <c>async</c> = this event.
    /// </summary>
    private async Task<(List<string> Cancelled, List<string> Woken)> CancelRunsAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction tx,
        IReadOnlyList<IncomingEvent> events,
        List<int> stored,
        string[] dedupeKeys,
        IReadOnlyList<TriggeredFunction> functions,
        CancellationToken cancellationToken)
    {
        var rules = (from i in stored
                     from f in functions
                     from rule in f.Cancel
                     where rule.Match.Matches(events[i].Name)
                     select (Function: f.Id, Rule: rule, Event: i)).ToList();
        if (rules.Count == 0)
        {
            return ([], []);
        }

        var candidates = new List<(string RunId, Guid Function, TimeSpan Age, string Name, string Data, string EventId, long Ts)>();
        await using (var find = new NpgsqlCommand($"""
            SELECT r.id, r.function_id, now() - r.created_at, e.name, e.data::text, e.event_id, e.ts
              FROM platform.runs r
              JOIN platform.events e ON e.id = r.event_id
             WHERE r.function_id = ANY(@functions) AND r.status IN {RunStatuses.MovableSql} AND r.created_at < now()
            """, connection, tx))
        {
            find.Parameters.AddWithValue("functions", rules.Select(r => r.Function).Distinct().ToArray());
            await using var reader = await find.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                candidates.Add((reader.GetString(0), reader.GetGuid(1), reader.GetFieldValue<TimeSpan>(2), reader.GetString(3),
                    reader.GetString(4), reader.GetString(5), reader.GetInt64(6)));
            }
        }

        var toCancel = new List<string>();
        var asyncVars = new Dictionary<int, Dictionary<string, object?>>();
        foreach (var run in candidates)
        {
            Dictionary<string, object?>? trigger = null;
            foreach (var (_, rule, i) in rules.Where(r => r.Function == run.Function))
            {
                if (rule.Timeout is { } timeout && run.Age > timeout)
                {
                    continue;
                }

                if (rule.Match.Expression is { } condition)
                {
                    trigger ??= Expressions.EventVariable(run.Name, run.Data, run.EventId, run.Ts);
                    if (!asyncVars.TryGetValue(i, out var asyncVar))
                    {
                        asyncVar = Expressions.EventVariable(events[i].Name, events[i].DataJson, dedupeKeys[i], events[i].Ts);
                        asyncVars[i] = asyncVar;
                    }

                    if (!expressions.IsTrue(condition, new Dictionary<string, object?> { ["event"] = trigger, ["async"] = asyncVar }))
                    {
                        continue;
                    }
                }

                toCancel.Add(run.RunId);
                break;
            }
        }

        return await RunFinalization.CancelAsync(connection, tx, [.. toCancel], cancellationToken);
    }

    private async Task<List<string>> MatchWaitsAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction tx,
        IReadOnlyList<IncomingEvent> events,
        List<int> stored,
        string[] internalIds,
        string[] dedupeKeys,
        CancellationToken cancellationToken)
    {
        var names = stored.Select(i => events[i].Name).Distinct().ToArray();
        var waits = new List<(Guid Id, string RunId, string StepId, string EventName, string? Expression, string TriggerName, string TriggerData, string TriggerId, long TriggerTs)>();
        await using (var find = new NpgsqlCommand("""
            SELECT w.id, w.run_id, w.step_id, w.event_name, w.expression, e.name, e.data::text, e.event_id, e.ts
              FROM platform.waits w
              JOIN platform.runs r ON r.id = w.run_id
              JOIN platform.events e ON e.id = r.event_id
             WHERE w.event_name = ANY(@names) AND w.expires_at > now() AND w.invoked_run_id IS NULL
             ORDER BY w.created_at
            """, connection, tx))
        {
            find.Parameters.AddWithValue("names", names);
            await using var reader = await find.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                waits.Add((reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetString(5), reader.GetString(6), reader.GetString(7), reader.GetInt64(8)));
            }
        }

        var woken = new List<string>();
        if (waits.Count == 0)
        {
            return woken;
        }

        var consumed = new HashSet<Guid>();
        foreach (var i in stored)
        {
            var e = events[i];
            Dictionary<string, object?>? asyncVar = null;
            foreach (var w in waits)
            {
                if (consumed.Contains(w.Id) || w.EventName != e.Name)
                {
                    continue;
                }

                if (w.Expression is not null)
                {
                    asyncVar ??= Expressions.EventVariable(e.Name, e.DataJson, dedupeKeys[i], e.Ts);
                    var trigger = Expressions.EventVariable(w.TriggerName, w.TriggerData, w.TriggerId, w.TriggerTs);
                    if (!expressions.IsTrue(w.Expression, new Dictionary<string, object?> { ["event"] = trigger, ["async"] = asyncVar }))
                    {
                        continue;
                    }
                }

                // Consume the wait (a timeout may race us for it), store the event as the step's output, wake the run.
                await using var take = new NpgsqlCommand("""
                    WITH taken AS (DELETE FROM platform.waits WHERE id = @wait RETURNING run_id, step_id, event_name, step_name)
                    INSERT INTO platform.steps (run_id, step_id, name, display_name, op, output, output_sha256, attempts, completed_at)
                    SELECT run_id, step_id, coalesce(step_name, event_name), step_name, 'WaitForEvent', @event::jsonb, sha256(convert_to(@event, 'UTF8')), 1, now()
                      FROM taken
                    ON CONFLICT (run_id, step_id) DO NOTHING
                    RETURNING run_id
                    """, connection, tx);
                take.Parameters.AddWithValue("wait", w.Id);
                take.Parameters.AddWithValue("event", CallRequestBuilder.EventJson(e.Name, e.DataJson, dedupeKeys[i], e.Ts, e.UserJson, e.V));
                if (await take.ExecuteScalarAsync(cancellationToken) is string runId)
                {
                    consumed.Add(w.Id);
                    await using var wake = new NpgsqlCommand($"""
                        UPDATE platform.runs SET wake_seq = wake_seq + 1, next_wake_at = now(), dispatched_at = now()
                         WHERE id = @id AND status IN {RunStatuses.MovableSql}
                        """, connection, tx);
                    wake.Parameters.AddWithValue("id", runId);
                    await wake.ExecuteNonQueryAsync(cancellationToken);
                    woken.Add(runId);
                }
            }
        }

        return woken;
    }
}
