using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Platform.Executor.Scheduling;
using Platform.Executor.Storage;

namespace Platform.Executor.Runs;

/// <summary>A run as claimed by one worker: everything the loop needs, read in one round trip.</summary>
public sealed class ClaimedRun
{
    public required string RunId { get; init; }
    public required string Owner { get; init; }
    public required long Version { get; set; }
    public required long WakeSeq { get; init; }
    public required RunState State { get; set; }
    public required string FunctionSlug { get; init; }
    /// <summary>The function's app (the <c>source_app_id</c> of the runs it invokes).</summary>
    public required Guid AppId { get; init; }
    public required string FunctionUrl { get; init; }
    public required int Retries { get; init; }
    public required string EventJson { get; init; }
    /// <summary>Memoized outputs in stack order (completion order).</summary>
    public required OrderedDictionary<string, string> Memo { get; init; }
    /// <summary>The database clock at the claim; the loop's "now" is this plus elapsed time.</summary>
    public required DateTimeOffset DbNow { get; init; }
}

/// <summary>How a commit leaves the run.</summary>
public enum Disposition
{
    /// <summary>Keep the lease and go on.</summary>
    Continue,
    /// <summary>Release the lease until <c>Until</c>.</summary>
    Suspend,
    /// <summary>The run ends.</summary>
    Final,
}

/// <summary>One atomic write of a transition under the run's fence.</summary>
public sealed record CommitRequest(
    Transition Transition,
    Disposition Disposition,
    RunStatus Status,
    DateTimeOffset? Until);

/// <summary>What a commit found: whether the fence held, and the memo rows as stored.</summary>
public sealed record CommitResult(bool Committed, bool DueNow, IReadOnlyDictionary<string, string> Stored, IReadOnlyList<string> Conflicts)
{
    /// <summary>Other runs the commit moved, to dispatch once it is done: runs it invoked, callers it resumed.</summary>
    public IReadOnlyList<string> Dispatch { get; init; } = [];
}

/// <summary>
/// The executor's SQL. Every write is conditional on the run's fencing <c>version</c> (reliability.md §2.4-2.5):
/// a worker that lost its lease writes nothing. Step rows are inserted once and never updated.
/// </summary>
public sealed class RunStore(PlatformDatabase database, RunChangeNotifier changes)
{
    private const string ClaimSql = $"""
        UPDATE platform.runs
           SET lease_owner = @owner, lease_until = now() + @ttl, version = version + 1,
               status = 'Running', started_at = coalesce(started_at, now())
         WHERE id = @id AND status IN {RunStatuses.MovableSql}
           AND (lease_until IS NULL OR lease_until < now() OR lease_owner = @owner)
           AND next_wake_at <= now()
        RETURNING version, state::text, wake_seq, now()
        """;

    private const string LoadSql = """
        SELECT f.slug, f.url, f.retries, e.name, e.data::text, e.event_id, e.ts, e."user"::text, e.v, f.app_id
          FROM platform.runs r
          JOIN platform.functions f ON f.id = r.function_id
          JOIN platform.events e ON e.id = r.event_id
         WHERE r.id = @id AND r.lease_owner = @owner
        """;

    private const string LoadStepsSql = """
        SELECT s.step_id, s.output::text
          FROM platform.steps s
         WHERE s.run_id = @id AND EXISTS (SELECT 1 FROM platform.runs r WHERE r.id = @id AND r.lease_owner = @owner)
         ORDER BY s.seq
        """;

    /// <summary>Claims a run that is due and not leased. Null: someone else has it, it is not due, or it is final.</summary>
    /// <remarks>Retried on transient errors; the owner token makes a retry after a lost reply find its own claim.</remarks>
    public Task<ClaimedRun?> ClaimAsync(string runId, string owner, TimeSpan ttl, CancellationToken cancellationToken) =>
        database.RetryAsync(ct => ClaimOnceAsync(runId, owner, ttl, ct), cancellationToken);

    private async Task<ClaimedRun?> ClaimOnceAsync(string runId, string owner, TimeSpan ttl, CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(Command(RunChangeNotifier.DeferSql));
        batch.BatchCommands.Add(Command(ClaimSql, ("owner", owner), ("ttl", ttl), ("id", runId)));
        batch.BatchCommands.Add(Command(LoadSql, ("id", runId), ("owner", owner)));
        batch.BatchCommands.Add(Command(LoadStepsSql, ("id", runId), ("owner", owner)));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);

        await reader.NextResultAsync(cancellationToken); // past the deferral's row
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        changes.Changed(); // the run's status is now Running (if we die before this, the dashboard's next refresh shows it)

        var version = reader.GetInt64(0);
        var state = RunState.FromJson(reader.GetString(1));
        var wakeSeq = reader.GetInt64(2);
        var dbNow = reader.GetFieldValue<DateTimeOffset>(3);

        await reader.NextResultAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            throw new InvalidOperationException($"Run {runId} was claimed but its function or event is missing");
        }

        var slug = reader.GetString(0);
        var url = reader.GetString(1);
        var retries = reader.GetInt32(2);
        var appId = reader.GetGuid(9);
        var eventJson = CallRequestBuilder.EventJson(
            reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetInt64(6),
            reader.IsDBNull(7) ? null : reader.GetString(7), reader.IsDBNull(8) ? null : reader.GetString(8));

        await reader.NextResultAsync(cancellationToken);
        var memo = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            memo[reader.GetString(0)] = reader.GetString(1);
        }

        return new ClaimedRun
        {
            RunId = runId,
            Owner = owner,
            Version = version,
            WakeSeq = wakeSeq,
            State = state,
            FunctionSlug = slug,
            AppId = appId,
            FunctionUrl = url,
            Retries = retries,
            EventJson = eventJson,
            Memo = memo,
            DbNow = dbNow,
        };
    }

    /// <summary>
    /// Writes a transition in one round trip and one implicit transaction: the fenced run update first, then
    /// the step, attempt and wait rows, each guarded by "the update above happened".
    /// </summary>
    /// <remarks>
    /// Retried on transient errors. If a commit went through but its reply was lost, the retry finds the version
    /// moved and reports <c>Committed = false</c>: the worker stops, and the run moves again once its lease expires.
    /// </remarks>
    public Task<CommitResult> CommitAsync(ClaimedRun run, CommitRequest request, TimeSpan ttl, CancellationToken cancellationToken) =>
        database.RetryAsync(ct => CommitOnceAsync(run, request, ttl, ct), cancellationToken);

    private async Task<CommitResult> CommitOnceAsync(ClaimedRun run, CommitRequest request, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var t = request.Transition;
        var final = request.Disposition == Disposition.Final;
        var release = request.Disposition != Disposition.Continue;
        var newVersion = run.Version + 1;
        var invokes = t.NewWaits.Where(w => w.Kind == WorkKind.Invoke).ToList();
        // Only a commit that changes a status (this run's, or an invoker's the end resumes) or starts runs is announced;
        // a Continue commit, the one of almost every step, touches no trigger and pays no extra statement.
        var announce = release || invokes.Count > 0;

        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        if (announce)
        {
            batch.BatchCommands.Add(Command(RunChangeNotifier.DeferSql));
        }

        batch.BatchCommands.Add(Command("""
            UPDATE platform.runs
               SET version = version + 1,
                   state = @state::jsonb,
                   status = @status,
                   recoveries = CASE WHEN @progress THEN 0 ELSE recoveries END,
                   lease_owner = CASE WHEN @release THEN NULL ELSE lease_owner END,
                   lease_until = CASE WHEN @release THEN NULL ELSE now() + @ttl END,
                   next_wake_at = CASE WHEN @final THEN NULL
                                       WHEN @release THEN (CASE WHEN wake_seq = @wake_seq THEN greatest(@until, now()) ELSE now() END)
                                       ELSE next_wake_at END,
                   dispatched_at = CASE WHEN @release THEN now() ELSE dispatched_at END,
                   output = @output::jsonb,
                   error = @error::jsonb,
                   ended_at = CASE WHEN @final THEN now() ELSE NULL END
             WHERE id = @id AND version = @version AND lease_owner = @owner
            RETURNING next_wake_at, coalesce(next_wake_at <= now(), false)
            """,
            ("state", t.State.ToJson()),
            ("status", request.Status.ToString()),
            ("progress", t.Memos.Count > 0 || t.Completion is not null),
            ("release", release),
            ("ttl", ttl),
            ("final", final),
            ("wake_seq", run.WakeSeq),
            ("until", (object?)request.Until ?? DBNull.Value),
            ("output", (object?)t.Completion?.OutputJson ?? DBNull.Value),
            ("error", (object?)t.Completion?.ErrorJson ?? DBNull.Value),
            ("id", run.RunId),
            ("version", run.Version),
            ("owner", run.Owner)));
        // The parameter types of @until/@output/@error must be explicit when null.
        var update = batch.BatchCommands[announce ? 1 : 0];
        ((NpgsqlParameter)update.Parameters["until"]).NpgsqlDbType = NpgsqlDbType.TimestampTz;
        ((NpgsqlParameter)update.Parameters["output"]).NpgsqlDbType = NpgsqlDbType.Text;
        ((NpgsqlParameter)update.Parameters["error"]).NpgsqlDbType = NpgsqlDbType.Text;

        // "The update above happened" must mean *this* update: the version alone is not enough, because a claim,
        // a cancel or the sweeper bumps it too and can land on the same number (v+1) while our update matched
        // nothing. The run row carries our transaction id (xmin) only if we updated it; the batch is one implicit
        // transaction, so the statements below see it.
        const string Fence = "EXISTS (SELECT 1 FROM platform.runs WHERE id = @id AND version = @new_version AND xmin = xid(pg_current_xact_id_if_assigned()))";
        if (t.Memos.Count > 0)
        {
            batch.BatchCommands.Add(Command($"""
                INSERT INTO platform.steps (run_id, step_id, name, display_name, op, output, output_sha256, attempts, started_at, completed_at)
                SELECT @id, u.step_id, u.name, u.display_name, u.op, u.output::jsonb, u.sha, u.attempts, u.started_at, now()
                  FROM unnest(@step_ids, @names, @display_names, @ops, @outputs, @shas, @attempts, @started)
                       WITH ORDINALITY AS u(step_id, name, display_name, op, output, sha, attempts, started_at, ord)
                 WHERE {Fence}
                 ORDER BY u.ord
                ON CONFLICT (run_id, step_id) DO NOTHING
                RETURNING step_id, output::text
                """,
                ("id", run.RunId),
                ("new_version", newVersion),
                ("step_ids", t.Memos.Select(m => m.StepId).ToArray()),
                ("names", t.Memos.Select(m => m.Name).ToArray()),
                ("display_names", t.Memos.Select(m => m.DisplayName).ToArray()),
                ("ops", t.Memos.Select(m => m.Op).ToArray()),
                ("outputs", t.Memos.Select(m => m.OutputJson).ToArray()),
                ("shas", t.Memos.Select(m => SHA256.HashData(Encoding.UTF8.GetBytes(m.OutputJson))).ToArray()),
                ("attempts", t.Memos.Select(m => m.Attempts).ToArray()),
                ("started", t.Memos.Select(m => m.StartedAt).ToArray())));
        }

        if (t.Attempts.Count > 0)
        {
            batch.BatchCommands.Add(Command($"""
                INSERT INTO platform.attempts (run_id, step_id, step_name, attempt, error, started_at, ended_at, retry_at)
                SELECT @id, u.step_id, u.step_name, u.attempt, u.error::jsonb, now(), now(), u.retry_at
                  FROM unnest(@step_ids, @step_names, @attempts, @errors, @retry_at) AS u(step_id, step_name, attempt, error, retry_at)
                 WHERE {Fence}
                """,
                ("id", run.RunId),
                ("new_version", newVersion),
                ("step_ids", t.Attempts.Select(a => a.StepId).ToArray()),
                ("step_names", t.Attempts.Select(a => a.StepName).ToArray()),
                ("attempts", t.Attempts.Select(a => a.Attempt).ToArray()),
                ("errors", t.Attempts.Select(a => a.ErrorJson).ToArray()),
                ("retry_at", t.Attempts.Select(a => a.RetryAt).ToArray())));
        }

        var waits = t.NewWaits.Where(w => w.Kind == WorkKind.Wait).ToList();
        if (waits.Count > 0)
        {
            batch.BatchCommands.Add(Command($"""
                INSERT INTO platform.waits (id, run_id, step_id, event_name, expression, created_at, expires_at, step_name)
                SELECT gen_random_uuid(), @id, u.step_id, u.event_name, u.expression, now(), u.expires_at, u.display_name
                  FROM unnest(@step_ids, @event_names, @expressions, @expires, @display_names)
                       AS u(step_id, event_name, expression, expires_at, display_name)
                 WHERE {Fence}
                ON CONFLICT (run_id, step_id) DO NOTHING
                """,
                ("id", run.RunId),
                ("new_version", newVersion),
                ("step_ids", waits.Select(w => w.StepId).ToArray()),
                ("event_names", waits.Select(w => w.Event ?? "").ToArray()),
                ("expressions", waits.Select(w => w.Expression).ToArray()),
                ("expires", waits.Select(w => w.DueAt).ToArray()),
                ("display_names", waits.Select(w => w.DisplayName).ToArray())));
        }

        var invoked = AddInvokes(batch, run, invokes, newVersion, Fence);

        if (final)
        {
            batch.BatchCommands.Add(Command($"DELETE FROM platform.waits WHERE run_id = @id AND {Fence}", ("id", run.RunId), ("new_version", newVersion)));
            // The lifecycle events to send, and the step that invoked this run (if one did), in this same transaction.
            foreach (var command in RunFinalization.Commands([run.RunId]))
            {
                batch.BatchCommands.Add(command);
            }
        }

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (announce)
        {
            await reader.NextResultAsync(cancellationToken); // past the deferral's row
        }

        if (!await reader.ReadAsync(cancellationToken))
        {
            // Lost the lease (cancelled, or taken over after expiry): nothing was written.
            return new CommitResult(false, false, new Dictionary<string, string>(), []);
        }

        var dueNow = reader.GetBoolean(1);
        var stored = new Dictionary<string, string>(StringComparer.Ordinal);
        if (t.Memos.Count > 0)
        {
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                stored[reader.GetString(0)] = reader.GetString(1);
            }
        }

        // Statements without RETURNING yield no result set: the next one is the invokers the final commit resumed.
        var dispatch = new List<string>(invoked);
        if (final)
        {
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                dispatch.Add(reader.GetString(0));
            }
        }

        await reader.DisposeAsync();
        run.Version = newVersion;
        if (announce)
        {
            changes.Changed();
        }

        var conflicts = t.Memos.Where(m => !stored.ContainsKey(m.StepId)).Select(m => m.StepId).ToList();
        if (conflicts.Count > 0)
        {
            // Another writer stored these first (a duplicate dispatch): the first output wins, read it back.
            await using var read = new NpgsqlCommand(
                "SELECT step_id, output::text FROM platform.steps WHERE run_id = @id AND step_id = ANY(@ids)", connection);
            read.Parameters.AddWithValue("id", run.RunId);
            read.Parameters.AddWithValue("ids", conflicts.ToArray());
            await using var r = await read.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken))
            {
                stored[r.GetString(0)] = r.GetString(1);
            }
        }

        return new CommitResult(true, dueNow, stored, conflicts) { Dispatch = dispatch };
    }

    /// <summary>
    /// Adds the statements that start the runs of <paramref name="invokes"/> (protocol.md §15.3): per invoke an
    /// <c>inngest/function.invoked</c> event, a Queued run of the target (its triggers bypassed) and the wait row
    /// that links the run to the invoking step; all guarded by the fence. Returns the ids of the runs to start.
    /// </summary>
    private static List<string> AddInvokes(NpgsqlBatch batch, ClaimedRun run, List<WorkItem> invokes, long newVersion, string fence)
    {
        if (invokes.Count == 0)
        {
            return [];
        }

        var now = DateTimeOffset.UtcNow;
        var runIds = invokes.Select(_ => Events.Ulid.New(now)).ToArray();
        var eventIds = invokes.Select(_ => Events.Ulid.New(now)).ToArray();
        var events = invokes.Select(i => Invocation.ChildEvent(i.Payload, i.Function!, Invocation.CorrelationId(run.RunId, i.StepId),
            run.AppId.ToString(), run.FunctionSlug, i.DueAt, i.DisplayName ?? i.Name)).ToList();

        batch.BatchCommands.Add(Command($"""
            INSERT INTO platform.events (id, event_id, name, data, ts, v, "user", received_at)
            SELECT u.id, u.id, @name, u.data::jsonb, @ts, u.v, u.usr::jsonb, now()
              FROM unnest(@ids, @data, @v, @users) AS u(id, data, v, usr)
             WHERE {fence}
            """,
            ("id", run.RunId),
            ("new_version", newVersion),
            ("name", Invocation.InvokedEvent),
            ("ts", now.ToUnixTimeMilliseconds()),
            ("ids", eventIds),
            ("data", events.Select(e => e.DataJson).ToArray()),
            ("v", events.Select(e => e.V).ToArray()),
            ("users", events.Select(e => e.UserJson).ToArray())));
        batch.BatchCommands.Add(Command($"""
            INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, dispatched_at, recoveries, wake_seq, state, created_at)
            SELECT u.id, f.id, u.event_id, 'Queued', 0, now(), now(), 0, 0, @state::jsonb, now()
              FROM unnest(@ids, @slugs, @event_ids) AS u(id, slug, event_id)
              JOIN platform.functions f ON f.slug = u.slug
             WHERE {fence}
            """,
            ("id", run.RunId),
            ("new_version", newVersion),
            ("state", RunState.Start(DateTimeOffset.UnixEpoch).ToJson()),
            ("ids", runIds),
            ("slugs", invokes.Select(i => i.Function!).ToArray()),
            ("event_ids", eventIds)));
        batch.BatchCommands.Add(Command($"""
            INSERT INTO platform.waits (id, run_id, step_id, event_name, expression, created_at, expires_at, invoked_run_id, step_name)
            SELECT gen_random_uuid(), @id, u.step_id, @event, NULL, now(), u.expires_at, u.invoked, u.name
              FROM unnest(@step_ids, @expires, @invoked, @names) AS u(step_id, expires_at, invoked, name)
             WHERE {fence}
            ON CONFLICT (run_id, step_id) DO NOTHING
            """,
            ("id", run.RunId),
            ("new_version", newVersion),
            ("event", Invocation.FinishedEvent),
            ("step_ids", invokes.Select(i => i.StepId).ToArray()),
            ("expires", invokes.Select(i => i.DueAt).ToArray()),
            ("invoked", runIds),
            ("names", invokes.Select(i => i.Name ?? i.StepId).ToArray())));
        return [.. runIds];
    }

    /// <summary>
    /// Consumes a wait whose timeout came. True: we consumed it (the step's result is null). False: an event
    /// consumed it first; <paramref name="matched"/> is the stored event, or null if none was stored (a crash
    /// between consuming and committing, treated as a timeout).
    /// </summary>
    public Task<(bool Consumed, string? Matched)> ConsumeWaitAsync(string runId, string stepId, CancellationToken cancellationToken) =>
        database.RetryAsync(ct => ConsumeWaitOnceAsync(runId, stepId, ct), cancellationToken);

    private async Task<(bool Consumed, string? Matched)> ConsumeWaitOnceAsync(string runId, string stepId, CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var delete = new NpgsqlCommand("DELETE FROM platform.waits WHERE run_id = @id AND step_id = @step RETURNING 1", connection);
        delete.Parameters.AddWithValue("id", runId);
        delete.Parameters.AddWithValue("step", stepId);
        if (await delete.ExecuteScalarAsync(cancellationToken) is not null)
        {
            return (true, null);
        }

        await using var read = new NpgsqlCommand("SELECT output::text FROM platform.steps WHERE run_id = @id AND step_id = @step", connection);
        read.Parameters.AddWithValue("id", runId);
        read.Parameters.AddWithValue("step", stepId);
        return (false, await read.ExecuteScalarAsync(cancellationToken) as string);
    }

    /// <summary>Releases a claim without changing anything else (shutdown): the run is due again at once.</summary>
    public async Task ReleaseAsync(ClaimedRun run, CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            UPDATE platform.runs SET lease_owner = NULL, lease_until = NULL, next_wake_at = now(), version = version + 1
             WHERE id = @id AND version = @version AND lease_owner = @owner
            """, connection);
        command.Parameters.AddWithValue("id", run.RunId);
        command.Parameters.AddWithValue("version", run.Version);
        command.Parameters.AddWithValue("owner", run.Owner);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    internal static NpgsqlBatchCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter(name, value ?? DBNull.Value));
        }

        return command;
    }
}
