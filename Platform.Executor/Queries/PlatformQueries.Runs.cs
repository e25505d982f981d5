using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Platform.Executor.Events;
using Platform.Executor.Runs;

namespace Platform.Executor.Queries;

// The runs list, its counts and the per-function figures, in SQL written for a million runs: every filter is an index
// range. Run ids are ULIDs whose first 48 bits are the creation time in milliseconds, so "created between from and
// to" is the id range [ulid(from), ulid(to)) of the primary key, of (status, id), of (function_id, id) and of
// (function_id, status, id); no index on created_at is needed and nothing more is written per run.
public sealed partial class PlatformQueries
{
    /// <summary>
    /// Counts stop at this many runs per status: an index-only range of at most this length per tab. Measured with
    /// 1M runs (benchmark --dashboard): a cap of 10,000 cost 40-90 ms for the eight counts, a full GROUP BY 450 ms.
    /// </summary>
    public const long CountCap = 1_000;

    /// <summary>
    /// A search reads at most this many runs per page (see <see cref="RunFilter.Search"/>). Measured with 1M runs:
    /// about 20 µs a run on a loaded two-core machine (100 ms for 5,000), so 2,000 keeps a searched page under 200 ms.
    /// </summary>
    public const int SearchBudget = 2_000;

    private static readonly byte[] s_noEntropy = new byte[10];

    /// <summary>
    /// One page of runs, newest first. <see cref="Page{T}.NextCursor"/> continues below the page; with a search it
    /// may also be set on a short page: the budget ran out before the page filled, and older runs are still to search.
    /// Time bounds are on the creation time recorded in the run id (the platform's clock when it created the run).
    /// </summary>
    public async Task<Page<RunSummaryDto>> ListRunsAsync(RunFilter filter, CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        var functions = await ResolveFunctionsAsync(connection, filter.Function, filter.App, cancellationToken);
        if (functions is { Length: 0 })
        {
            return new Page<RunSummaryDto>([], null);
        }

        await using var command = new NpgsqlCommand { Connection = connection };
        var where = Conditions(command, filter, functions, filter.Statuses, cursor: true);
        // Limits are written into the SQL, not bound: the platform's connections auto-prepare statements, and a
        // prepared (generic) plan cannot see a bound LIMIT, guesses a tenth of the table, and then hashes whole
        // tables for the joins (measured: the runs page went from 2 to 100+ ms at 1M runs after five renders).
        var take = (filter.Limit + 1).ToString(CultureInfo.InvariantCulture);

        if (filter.Search is not { } search)
        {
            command.CommandText = $"""
                SELECT r.id, r.status, f.slug, f.name, e.id, e.name, r.created_at, r.started_at, r.ended_at
                  FROM (SELECT * FROM platform.runs r {where} ORDER BY r.id DESC LIMIT {take}) r
                  CROSS JOIN LATERAL (SELECT f.slug, f.name FROM platform.functions f WHERE f.id = r.function_id LIMIT 1) f
                  CROSS JOIN LATERAL (SELECT e.id, e.name FROM platform.events e WHERE e.id = r.event_id LIMIT 1) e
                 ORDER BY r.id DESC
                """;
            var rows = await ReadSummariesAsync(command, 0, cancellationToken);
            return new Page<RunSummaryDto>(rows.Take(filter.Limit).ToList(), rows.Count > filter.Limit ? rows[filter.Limit - 1].Id : null);
        }

        // The newest runs under the other filters, at most the budget, then the text test on those only: the cost
        // of a page is bounded whatever the table holds (a trigram index would make every ingest pay instead). The
        // events are looked up one by one (LATERAL … LIMIT 1): a join would let the planner hash the whole table.
        command.Parameters.AddWithValue("pattern", "%" + EscapeLike(search) + "%");
        command.CommandText = $"""
            WITH scanned AS MATERIALIZED (
                SELECT r.id, r.status, r.function_id, r.event_id, r.output, r.created_at, r.started_at, r.ended_at
                  FROM platform.runs r {where} ORDER BY r.id DESC LIMIT {SearchBudget}),
            reach AS (SELECT count(*) AS n, min(id) AS last FROM scanned)
            SELECT reach.n, reach.last, m.*
              FROM reach LEFT JOIN LATERAL (
                SELECT s.id, s.status, f.slug, f.name, e.id AS event_id, e.name AS event_name, s.created_at, s.started_at, s.ended_at
                  FROM scanned s
                  CROSS JOIN LATERAL (SELECT e.id, e.name, e.data FROM platform.events e WHERE e.id = s.event_id LIMIT 1) e
                  CROSS JOIN LATERAL (SELECT f.slug, f.name FROM platform.functions f WHERE f.id = s.function_id LIMIT 1) f
                 WHERE e.data::text ILIKE @pattern OR s.output::text ILIKE @pattern
                 ORDER BY s.id DESC LIMIT {take}) m ON true
             ORDER BY m.id DESC
            """;
        long scanned = 0;
        string? last = null;
        var matches = new List<RunSummaryDto>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                scanned = reader.GetInt64(0);
                last = reader.IsDBNull(1) ? null : reader.GetString(1);
                if (!reader.IsDBNull(2))
                {
                    matches.Add(Summary(reader, 2));
                }
            }
        }

        if (matches.Count > filter.Limit)
        {
            return new Page<RunSummaryDto>(matches.Take(filter.Limit).ToList(), matches[filter.Limit - 1].Id);
        }

        return new Page<RunSummaryDto>(matches, scanned >= SearchBudget ? last : null);
    }

    /// <summary>
    /// Runs per status (and in all) under the filter's function, app and time range, each counted up to
    /// <see cref="CountCap"/> with an index-only range; statuses, cursor and search are ignored.
    /// </summary>
    public async Task<RunCounts> CountRunsAsync(RunFilter filter, CancellationToken cancellationToken)
    {
        var statuses = Enum.GetValues<RunStatus>();
        var byStatus = statuses.ToDictionary(s => s, _ => 0L);
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        var functions = await ResolveFunctionsAsync(connection, filter.Function, filter.App, cancellationToken);
        if (functions is { Length: 0 })
        {
            return new RunCounts(byStatus, 0, CountCap);
        }

        await using var command = new NpgsqlCommand { Connection = connection };
        var where = Conditions(command, filter with { Cursor = null }, functions, null, cursor: false);
        // One capped count per status, each planned with its literal status (a rare status and a common one want
        // different plans), plus the capped count of all.
        var sql = new StringBuilder();
        foreach (var status in statuses)
        {
            sql.Append(CultureInfo.InvariantCulture, $"""
                SELECT '{status}', count(*) FROM (SELECT 1 FROM platform.runs r {where}{(where.Length == 0 ? "WHERE" : " AND")} r.status = '{status}' LIMIT {CountCap}) c
                UNION ALL

                """);
        }

        sql.Append(CultureInfo.InvariantCulture, $"SELECT NULL, count(*) FROM (SELECT 1 FROM platform.runs r {where} LIMIT {CountCap}) c");
        command.CommandText = sql.ToString();
        long all = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (reader.IsDBNull(0))
            {
                all = reader.GetInt64(1);
            }
            else if (RunStatuses.TryParse(reader.GetString(0), out var status))
            {
                byStatus[status] = reader.GetInt64(1);
            }
        }

        return new RunCounts(byStatus, all, CountCap);
    }

    /// <summary>
    /// Per active function: runs created in the last hour and the last day, finished and failed. Index-only ranges
    /// of <c>(function_id, status, id)</c>, one per function and status.
    /// </summary>
    public async Task<IReadOnlyList<FunctionStatsDto>> FunctionStatsAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT f.slug, s.status,
                   (SELECT count(*) FROM platform.runs r WHERE r.function_id = f.id AND r.status = s.status AND r.id >= @hour),
                   (SELECT count(*) FROM platform.runs r WHERE r.function_id = f.id AND r.status = s.status AND r.id >= @day)
              FROM platform.functions f CROSS JOIN unnest(@statuses) AS s(status)
             WHERE f.archived_at IS NULL
            """, connection);
        command.Parameters.AddWithValue("hour", IdAt(now.AddHours(-1)));
        command.Parameters.AddWithValue("day", IdAt(now.AddDays(-1)));
        command.Parameters.AddWithValue("statuses", Enum.GetNames<RunStatus>());
        var totals = new Dictionary<string, long[]>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var slug = reader.GetString(0);
                if (!totals.TryGetValue(slug, out var t))
                {
                    totals[slug] = t = new long[6];
                }

                RunStatuses.TryParse(reader.GetString(1), out var status);
                var (hour, day) = (reader.GetInt64(2), reader.GetInt64(3));
                t[0] += hour;
                t[3] += day;
                if (status.IsFinal())
                {
                    t[1] += hour;
                    t[4] += day;
                }

                if (status == RunStatus.Failed)
                {
                    t[2] += hour;
                    t[5] += day;
                }
            }
        }

        return totals.OrderBy(t => t.Key, StringComparer.Ordinal)
            .Select(t => new FunctionStatsDto(t.Key, new RunWindowDto(t.Value[0], t.Value[1], t.Value[2]), new RunWindowDto(t.Value[3], t.Value[4], t.Value[5])))
            .ToList();
    }

    /// <summary>Per app: last sync, its newest failed attempt among the last <paramref name="recentAttempts"/> attempts, its last completed run.</summary>
    public async Task<IReadOnlyList<AppHealthDto>> AppHealthAsync(int recentAttempts, CancellationToken cancellationToken)
    {
        await using var connection = await database.DataSource.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"""
            WITH recent AS (SELECT a.run_id, a.ended_at, a.error, a.id FROM platform.attempts a ORDER BY a.id DESC LIMIT {recentAttempts}),
            errors AS (
                SELECT DISTINCT ON (f.app_id) f.app_id, x.ended_at, x.error::text AS error
                  FROM recent x JOIN platform.runs r ON r.id = x.run_id JOIN platform.functions f ON f.id = r.function_id
                 ORDER BY f.app_id, x.id DESC)
            SELECT a.name, a.synced_at, e.ended_at, e.error,
                   (SELECT max(c.ended_at) FROM platform.functions f
                      CROSS JOIN LATERAL (SELECT r.ended_at FROM platform.runs r
                                           WHERE r.function_id = f.id AND r.status = 'Completed' ORDER BY r.id DESC LIMIT 1) c
                     WHERE f.app_id = a.id)
              FROM platform.apps a LEFT JOIN errors e ON e.app_id = a.id
             ORDER BY a.name
            """, connection);
        var list = new List<AppHealthDto>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            list.Add(new AppHealthDto(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1),
                reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : ErrorText(reader.GetString(3)),
                reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4)));
        }

        return list;
    }

    /// <summary>The smallest run id created at <paramref name="time"/> (milliseconds clamped to what a ULID holds).</summary>
    public static string IdAt(DateTimeOffset time)
    {
        var ms = time.ToUnixTimeMilliseconds();
        return Ulid.Create(Math.Clamp(ms, 0L, 0xFFFF_FFFF_FFFFL), s_noEntropy);
    }

    /// <summary>Function ids for the function and app filters: null when neither is set, empty when nothing matches.</summary>
    private static async Task<Guid[]?> ResolveFunctionsAsync(NpgsqlConnection connection, string? function, string? app, CancellationToken cancellationToken)
    {
        if (function is null && app is null)
        {
            return null;
        }

        await using var command = new NpgsqlCommand("""
            SELECT f.id FROM platform.functions f JOIN platform.apps a ON a.id = f.app_id
             WHERE (@slug::text IS NULL OR f.slug = @slug) AND (@app::text IS NULL OR a.name = @app)
            """, connection);
        command.Parameters.Add(new NpgsqlParameter("slug", NpgsqlDbType.Text) { Value = (object?)function ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("app", NpgsqlDbType.Text) { Value = (object?)app ?? DBNull.Value });
        var ids = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetGuid(0));
        }

        return [.. ids];
    }

    /// <summary>The WHERE clause on <c>platform.runs r</c> for a filter, its values added as parameters.</summary>
    private static string Conditions(NpgsqlCommand command, RunFilter filter, Guid[]? functions, IReadOnlyList<string>? statuses, bool cursor)
    {
        var conditions = new List<string>();
        if (functions is { Length: 1 })
        {
            // One function (the common case) as a plain equality: the planner then walks (function_id, id) in order.
            conditions.Add("r.function_id = @function");
            command.Parameters.AddWithValue("function", functions[0]);
        }
        else if (functions is not null)
        {
            conditions.Add("r.function_id = ANY(@functions)");
            command.Parameters.AddWithValue("functions", functions);
        }

        if (statuses is { Count: 1 })
        {
            conditions.Add("r.status = @status");
            command.Parameters.AddWithValue("status", statuses[0]);
        }
        else if (statuses is { Count: > 1 })
        {
            conditions.Add("r.status = ANY(@statuses)");
            command.Parameters.AddWithValue("statuses", statuses.ToArray());
        }

        if (filter.From is { } from)
        {
            conditions.Add("r.id >= @from_id");
            command.Parameters.AddWithValue("from_id", IdAt(from));
        }

        if (filter.To is { } to)
        {
            conditions.Add("r.id < @to_id");
            command.Parameters.AddWithValue("to_id", IdAt(to));
        }

        if (cursor && filter.Cursor is { } c)
        {
            conditions.Add("r.id < @cursor");
            command.Parameters.AddWithValue("cursor", c);
        }

        return conditions.Count == 0 ? "" : "WHERE " + string.Join(" AND ", conditions);
    }

    /// <summary>The text as a literal inside a LIKE pattern: <c>\</c>, <c>%</c> and <c>_</c> escaped.</summary>
    private static string EscapeLike(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    private static async Task<List<RunSummaryDto>> ReadSummariesAsync(NpgsqlCommand command, int offset, CancellationToken cancellationToken)
    {
        var rows = new List<RunSummaryDto>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(Summary(reader, offset));
        }

        return rows;
    }

    private static RunSummaryDto Summary(NpgsqlDataReader reader, int o) =>
        new(reader.GetString(o), reader.GetString(o + 1), reader.GetString(o + 2), reader.GetString(o + 3), reader.GetString(o + 4),
            reader.GetString(o + 5), reader.GetFieldValue<DateTimeOffset>(o + 6),
            reader.IsDBNull(o + 7) ? null : reader.GetFieldValue<DateTimeOffset>(o + 7),
            reader.IsDBNull(o + 8) ? null : reader.GetFieldValue<DateTimeOffset>(o + 8));

    /// <summary>An attempt's error as one line: its <c>name: message</c> when it has them, else the JSON.</summary>
    private static string ErrorText(string json)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind == System.Text.Json.JsonValueKind.Object && root.TryGetProperty("message", out var message) && message.ValueKind == System.Text.Json.JsonValueKind.String)
            {
                return root.TryGetProperty("name", out var name) && name.ValueKind == System.Text.Json.JsonValueKind.String
                    ? $"{name.GetString()}: {message.GetString()}"
                    : message.GetString()!;
            }
        }
        catch (System.Text.Json.JsonException)
        {
            // Stored as jsonb, so it parses; a string is shown as it is.
        }

        return json;
    }
}
