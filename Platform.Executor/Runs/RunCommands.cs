using Npgsql;
using Platform.Executor.Scheduling;
using Platform.Executor.Storage;

namespace Platform.Executor.Runs;

/// <summary>Actions on runs from outside the executor (API, dashboard).</summary>
public sealed class RunCommands(PlatformDatabase database, DispatchQueue dispatchQueue, LifecycleSignal lifecycle)
{
    /// <summary>
    /// Cancels a run that has not finished. Bumping the version fences out a worker in flight: its next commit
    /// writes nothing, so a cancelled run calls the app no more and its pending sleep, wait or retry is dropped.
    /// </summary>
    public async Task<(bool Found, bool Cancelled, string? Status)> CancelAsync(string runId, CancellationToken cancellationToken)
    {
        var (found, cancelled, status, woken) = await database.RetryAsync(async ct =>
        {
            await using var connection = await database.DataSource.OpenConnectionAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            await using var cancel = new NpgsqlCommand($$"""
                UPDATE platform.runs
                   SET status = 'Cancelled', version = version + 1, lease_owner = NULL, lease_until = NULL,
                       next_wake_at = NULL, ended_at = now(),
                       state = jsonb_set(state, '{items}', '[]'::jsonb)
                 WHERE id = @id AND status IN {{RunStatuses.MovableSql}}
                RETURNING status
                """, connection, tx);
            cancel.Parameters.AddWithValue("id", runId);
            var cancelled = await cancel.ExecuteScalarAsync(ct) is not null;
            if (cancelled)
            {
                await using var waits = new NpgsqlCommand("DELETE FROM platform.waits WHERE run_id = @id", connection, tx);
                waits.Parameters.AddWithValue("id", runId);
                await waits.ExecuteNonQueryAsync(ct);
                var invokers = await RunFinalization.EndedAsync(connection, tx, [runId], ct);
                await tx.CommitAsync(ct);
                return (true, true, "Cancelled", invokers);
            }

            await using var read = new NpgsqlCommand("SELECT status FROM platform.runs WHERE id = @id", connection, tx);
            read.Parameters.AddWithValue("id", runId);
            var current = await read.ExecuteScalarAsync(ct) as string;
            return (current is not null, false, current, new List<string>());
        }, cancellationToken);

        // After the commit: a caller resumed by this cancel is dispatched, the lifecycle events sent (if we die
        // here, the sweep and the publisher's poll find them).
        dispatchQueue.Enqueue(woken);
        if (cancelled)
        {
            lifecycle.Notify();
        }

        return (found, cancelled, status);
    }
}
