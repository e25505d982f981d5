using Npgsql;
using Platform.Executor.Scheduling;
using Platform.Executor.Storage;

namespace Platform.Executor.Runs;

/// <summary>Actions on runs from outside the executor (API, dashboard).</summary>
/// <remarks>
/// Without <paramref name="dispatchQueue"/> and <paramref name="lifecycle"/> (a bare instance, as in store tests)
/// nothing is lost: an invoker resumed by a cancel is due and the sweep dispatches it; the lifecycle events wait in
/// the outbox for the publisher's poll.
/// </remarks>
public sealed class RunCommands(PlatformDatabase database, DispatchQueue? dispatchQueue = null, LifecycleSignal? lifecycle = null)
{
    /// <summary>
    /// Cancels a run that has not finished (see <see cref="RunFinalization.CancelAsync"/>): a cancelled run calls the
    /// app no more and its pending sleep, wait or retry is dropped.
    /// </summary>
    public async Task<(bool Found, bool Cancelled, string? Status)> CancelAsync(string runId, CancellationToken cancellationToken)
    {
        var (found, cancelled, status, woken) = await database.RetryAsync(async ct =>
        {
            await using var connection = await database.DataSource.OpenConnectionAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            var (done, invokers) = await RunFinalization.CancelAsync(connection, tx, [runId], ct);
            if (done.Count > 0)
            {
                await tx.CommitAsync(ct);
                return (true, true, "Cancelled", invokers);
            }

            await using var read = new NpgsqlCommand("SELECT status FROM platform.runs WHERE id = @id", connection, tx);
            read.Parameters.AddWithValue("id", runId);
            var current = await read.ExecuteScalarAsync(ct) as string;
            return (current is not null, false, current, new List<string>());
        }, cancellationToken);

        AfterCancel(cancelled ? 1 : 0, woken);
        return (found, cancelled, status);
    }

    /// <summary>
    /// Cancels every run of a function that has not finished and was created in [<paramref name="from"/>,
    /// <paramref name="to"/>) (either bound may be open). Null when no function has the slug.
    /// </summary>
    public async Task<int?> CancelFunctionRunsAsync(string slug, DateTimeOffset? from, DateTimeOffset? to, CancellationToken cancellationToken)
    {
        var (found, count, woken) = await database.RetryAsync(async ct =>
        {
            await using var connection = await database.DataSource.OpenConnectionAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            var ids = new List<string>();
            await using (var find = new NpgsqlCommand($"""
                SELECT f.id, r.id
                  FROM platform.functions f
                  LEFT JOIN platform.runs r ON r.function_id = f.id AND r.status IN {RunStatuses.MovableSql}
                       AND (@from::timestamptz IS NULL OR r.created_at >= @from) AND (@to::timestamptz IS NULL OR r.created_at < @to)
                 WHERE f.slug = @slug
                """, connection, tx))
            {
                find.Parameters.AddWithValue("slug", slug);
                find.Parameters.Add(new NpgsqlParameter("from", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = (object?)from ?? DBNull.Value });
                find.Parameters.Add(new NpgsqlParameter("to", NpgsqlTypes.NpgsqlDbType.TimestampTz) { Value = (object?)to ?? DBNull.Value });
                await using var reader = await find.ExecuteReaderAsync(ct);
                var any = false;
                while (await reader.ReadAsync(ct))
                {
                    any = true;
                    if (!reader.IsDBNull(1))
                    {
                        ids.Add(reader.GetString(1));
                    }
                }

                if (!any)
                {
                    return (false, 0, new List<string>());
                }
            }

            var (cancelled, invokers) = await RunFinalization.CancelAsync(connection, tx, [.. ids], ct);
            await tx.CommitAsync(ct);
            return (true, cancelled.Count, invokers);
        }, cancellationToken);

        AfterCancel(count, woken);
        return found ? count : null;
    }

    /// <summary>
    /// Starts a new run of the run's function for the same triggering event, recording which run it reran. With
    /// <paramref name="fromStepId"/>, the steps stored before that step (lower <c>seq</c>, the replay order) are
    /// copied into the new run with their outputs and errors as stored, so the app replays them from the memo and
    /// executes that step and everything after it; without it, every step runs again.
    /// </summary>
    /// <remarks>
    /// Any run can be rerun, finished or not (as Inngest allows): the new run shares nothing with the original but the
    /// event and, from a step, a copy of the steps stored at this moment. The function must not be archived (its app
    /// no longer serves it). Reruns are outside the one-run-per-(function, event) index and bypass the function's
    /// <c>idempotency</c> key: a rerun is asked for on purpose. The new run, its copied steps and its link to the
    /// original are written in one transaction; its id is chosen before the first attempt, so a retry after a lost
    /// commit reply finds the run it created instead of creating a second one. If the process dies after the commit
    /// and before the dispatch, the run is due (<c>next_wake_at</c> = now) and the sweeper dispatches it.
    /// </remarks>
    public async Task<RerunResult> RerunAsync(string runId, string? fromStepId, CancellationToken cancellationToken)
    {
        var newRunId = Events.Ulid.New(DateTimeOffset.UtcNow);
        var result = await database.RetryAsync(ct => RerunOnceAsync(runId, fromStepId, newRunId, ct), cancellationToken);
        if (result.Outcome == RerunOutcome.Created)
        {
            dispatchQueue?.Enqueue([newRunId]);
        }

        return result;
    }

    private async Task<RerunResult> RerunOnceAsync(string runId, string? fromStepId, string newRunId, CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);

        await using (var mine = new NpgsqlCommand("SELECT 1 FROM platform.runs WHERE id = @id", connection, tx))
        {
            mine.Parameters.AddWithValue("id", newRunId);
            if (await mine.ExecuteScalarAsync(cancellationToken) is not null)
            {
                // An earlier attempt committed and lost its reply.
                return new RerunResult(RerunOutcome.Created, newRunId, null);
            }
        }

        Guid functionId;
        string eventId;
        await using (var read = new NpgsqlCommand("""
            SELECT r.function_id, r.event_id, f.slug, f.archived_at IS NOT NULL
              FROM platform.runs r
              JOIN platform.functions f ON f.id = r.function_id
             WHERE r.id = @id
               FOR KEY SHARE OF r
            """, connection, tx))
        {
            // Locked: housekeeping's retention skips a run being rerun, and a rerun waiting on a run it is deleting
            // then finds no run (404) instead of failing the insert's foreign key.
            read.Parameters.AddWithValue("id", runId);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return new RerunResult(RerunOutcome.RunNotFound, null, $"No run '{runId}'");
            }

            functionId = reader.GetGuid(0);
            eventId = reader.GetString(1);
            if (reader.GetBoolean(3))
            {
                return new RerunResult(RerunOutcome.FunctionArchived, null,
                    $"Function '{reader.GetString(2)}' is archived (its app no longer serves it): its runs cannot be rerun until an app syncs it again");
            }
        }

        long? fromSeq = null;
        if (fromStepId is not null)
        {
            await using var step = new NpgsqlCommand("SELECT seq FROM platform.steps WHERE run_id = @id AND step_id = @step", connection, tx);
            step.Parameters.AddWithValue("id", runId);
            step.Parameters.AddWithValue("step", fromStepId);
            if (await step.ExecuteScalarAsync(cancellationToken) is not long seq)
            {
                return new RerunResult(RerunOutcome.StepNotFound, null,
                    $"Run '{runId}' has no stored step '{fromStepId}': a rerun can start from a step the run has completed or failed (its hashed step id)");
            }

            fromSeq = seq;
        }

        await using (var insert = new NpgsqlCommand("""
            INSERT INTO platform.runs (id, function_id, event_id, status, version, next_wake_at, dispatched_at, recoveries, wake_seq, state, created_at,
                                       rerun_of_run_id, rerun_from_step_id)
            VALUES (@id, @function, @event, 'Queued', 0, now(), now(), 0, 0, @state::jsonb, now(), @of, @from)
            """, connection, tx))
        {
            insert.Parameters.AddWithValue("id", newRunId);
            insert.Parameters.AddWithValue("function", functionId);
            insert.Parameters.AddWithValue("event", eventId);
            insert.Parameters.AddWithValue("state", RunState.Start(DateTimeOffset.UnixEpoch).ToJson());
            insert.Parameters.AddWithValue("of", runId);
            insert.Parameters.Add(new NpgsqlParameter("from", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)fromStepId ?? DBNull.Value });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        if (fromSeq is { } before)
        {
            // In replay order, so the copies get new seq values in the same order (the memo's stack order). A copied
            // step keeps the run that executed it, also through a rerun of a rerun.
            await using var copy = new NpgsqlCommand("""
                INSERT INTO platform.steps (run_id, step_id, name, display_name, op, output, output_sha256, attempts, started_at, completed_at, copied_from_run_id)
                SELECT @new, s.step_id, s.name, s.display_name, s.op, s.output, s.output_sha256, s.attempts, s.started_at, s.completed_at,
                       coalesce(s.copied_from_run_id, s.run_id)
                  FROM platform.steps s
                 WHERE s.run_id = @old AND s.seq < @seq
                 ORDER BY s.seq
                """, connection, tx);
            copy.Parameters.AddWithValue("new", newRunId);
            copy.Parameters.AddWithValue("old", runId);
            copy.Parameters.AddWithValue("seq", before);
            await copy.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return new RerunResult(RerunOutcome.Created, newRunId, null);
    }

    /// <summary>After the commit: callers resumed by a cancel are dispatched, lifecycle events sent (if we die here, the sweep and the publisher's poll find them).</summary>
    private void AfterCancel(int cancelled, List<string> woken)
    {
        dispatchQueue?.Enqueue(woken);
        if (cancelled > 0)
        {
            lifecycle?.Notify();
        }
    }
}

/// <summary>What <see cref="RunCommands.RerunAsync"/> did.</summary>
public enum RerunOutcome
{
    /// <summary>The new run is stored and dispatched.</summary>
    Created,
    RunNotFound,
    /// <summary>The chosen step is not a stored step of the run.</summary>
    StepNotFound,
    /// <summary>The run's function is archived: no app serves it.</summary>
    FunctionArchived,
}

/// <summary>The outcome of a rerun: the new run's id when created, otherwise what is wrong.</summary>
public sealed record RerunResult(RerunOutcome Outcome, string? RunId, string? Detail);
