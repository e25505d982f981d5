using Npgsql;

namespace Platform.Executor.Runs;

/// <summary>
/// What must happen in the same transaction as any write that ends a run (the executor's final commit, a cancel,
/// the sweeper failing a stuck run), so that no crash can separate the two: the outbox row of its lifecycle events,
/// and the resolution of the step that invoked it.
/// </summary>
public static class RunFinalization
{
    /// <summary>
    /// One outbox row per run that has ended (<see cref="Scheduling.LifecyclePublisher"/> sends its events). The row
    /// outlives its publication, so writing the end twice (a retried commit whose first reply was lost) adds nothing.
    /// </summary>
    private const string OutboxSql = """
        INSERT INTO platform.run_outbox (run_id, created_at)
        SELECT id, now() FROM platform.runs WHERE id = ANY(@ended) AND status IN ('Completed','Failed','Cancelled')
        ON CONFLICT (run_id) DO NOTHING
        """;

    /// <summary>
    /// For each run of <c>@ids</c> that has ended and was started by a <c>step.invoke</c>: consume the wait row of
    /// the invoking step (the timeout may race us for it: whoever deletes it decides the value), store the step as
    /// <c>{"data": output}</c> or <c>{"error": error}</c>, and wake the invoking run. Returns the woken runs' ids.
    /// A run that has not ended yet (the fence of the write before this failed) matches nothing.
    /// </summary>
    private const string ResolveInvokersSql = $"""
        WITH taken AS (
            DELETE FROM platform.waits w
             USING platform.runs c
             WHERE w.invoked_run_id = c.id AND c.id = ANY(@ended) AND c.status IN ('Completed','Failed','Cancelled')
            RETURNING w.run_id, w.step_id, coalesce(w.step_name, w.step_id) AS name,
                      CASE c.status WHEN 'Completed' THEN jsonb_build_object('data', c.output)
                                    WHEN 'Failed' THEN jsonb_build_object('error', c.error)
                                    ELSE jsonb_build_object('error', coalesce(c.error, @cancelled::jsonb)) END AS output),
        stored AS (
            INSERT INTO platform.steps (run_id, step_id, name, op, output, output_sha256, attempts, completed_at)
            SELECT run_id, step_id, name, 'InvokeFunction', output, sha256(convert_to(output::text, 'UTF8')), 1, now() FROM taken
            ON CONFLICT (run_id, step_id) DO NOTHING
            RETURNING run_id)
        UPDATE platform.runs SET wake_seq = wake_seq + 1, next_wake_at = now(), dispatched_at = now()
         WHERE id IN (SELECT run_id FROM stored) AND status IN {RunStatuses.MovableSql}
        RETURNING id
        """;

    /// <summary>
    /// Cancels the runs of <paramref name="runIds"/> that have not ended, inside <paramref name="tx"/>. Bumping the
    /// version fences out a worker in flight: its next commit writes nothing, so a cancelled run calls the app no
    /// more, and its pending sleep, wait or retry is dropped with its state and wait rows. Returns the runs it
    /// cancelled and the runs to dispatch after the commit (callers resumed by <see cref="EndedAsync"/>).
    /// </summary>
    /// <remarks><paramref name="errorJson"/> says why, when it is not a plain cancel (a timeout).</remarks>
    public static async Task<(List<string> Cancelled, List<string> Woken)> CancelAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, string[] runIds, CancellationToken cancellationToken, string? errorJson = null)
    {
        var cancelled = new List<string>();
        if (runIds.Length == 0)
        {
            return (cancelled, []);
        }

        await using (var cancel = new NpgsqlCommand($$"""
            UPDATE platform.runs
               SET status = 'Cancelled', version = version + 1, lease_owner = NULL, lease_until = NULL,
                   next_wake_at = NULL, ended_at = now(), error = coalesce(@error::jsonb, error),
                   state = jsonb_set(state, '{items}', '[]'::jsonb)
             WHERE id = ANY(@ids) AND status IN {{RunStatuses.MovableSql}}
            RETURNING id
            """, connection, tx))
        {
            cancel.Parameters.AddWithValue("ids", runIds);
            cancel.Parameters.Add(new NpgsqlParameter("error", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)errorJson ?? DBNull.Value });
            await using var reader = await cancel.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                cancelled.Add(reader.GetString(0));
            }
        }

        if (cancelled.Count == 0)
        {
            return (cancelled, []);
        }

        await using (var waits = new NpgsqlCommand("DELETE FROM platform.waits WHERE run_id = ANY(@ids)", connection, tx))
        {
            waits.Parameters.AddWithValue("ids", cancelled.ToArray());
            await waits.ExecuteNonQueryAsync(cancellationToken);
        }

        return (cancelled, await EndedAsync(connection, tx, [.. cancelled], cancellationToken));
    }

    /// <summary>
    /// The statements for runs that a batch just ended: the outbox rows, then the resolution of their invokers
    /// (whose result set is the woken run ids).
    /// </summary>
    public static IEnumerable<NpgsqlBatchCommand> Commands(string[] endedRunIds) =>
    [
        RunStore.Command(OutboxSql, ("ended", endedRunIds)),
        RunStore.Command(ResolveInvokersSql, ("ended", endedRunIds), ("cancelled", Invocation.CancelledError)),
    ];

    /// <summary>
    /// Does the same inside <paramref name="tx"/> for runs it ended; returns the runs to dispatch after the commit
    /// (the caller also notifies the <see cref="Scheduling.LifecyclePublisher"/> then).
    /// </summary>
    public static async Task<List<string>> EndedAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, string[] endedRunIds, CancellationToken cancellationToken)
    {
        var woken = new List<string>();
        if (endedRunIds.Length == 0)
        {
            return woken;
        }

        await using (var outbox = new NpgsqlCommand(OutboxSql, connection, tx))
        {
            outbox.Parameters.AddWithValue("ended", endedRunIds);
            await outbox.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var command = new NpgsqlCommand(ResolveInvokersSql, connection, tx);
        command.Parameters.AddWithValue("ended", endedRunIds);
        command.Parameters.AddWithValue("cancelled", Invocation.CancelledError);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            woken.Add(reader.GetString(0));
        }

        return woken;
    }
}
