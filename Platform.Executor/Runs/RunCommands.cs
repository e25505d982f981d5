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
