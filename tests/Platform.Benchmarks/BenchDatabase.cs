using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;
using Platform.Executor.Storage;

namespace Platform.Benchmarks;

/// <summary>
/// A fresh database for one benchmark run: on the server of <c>PLATFORM_BENCH_PG</c>, else <c>PLATFORM_TEST_PG</c>
/// (a connection string whose user may create databases), else on an embedded PostgreSQL started in a temp folder.
/// Disposing drops the database or stops the embedded server and deletes its folder.
/// </summary>
public sealed class BenchDatabase : IAsyncDisposable
{
    private readonly string? _adminConnectionString;
    private readonly string? _databaseName;
    private readonly EmbeddedPostgres? _embedded;
    private readonly string? _embeddedRoot;

    private BenchDatabase(string connectionString, string source, string? adminConnectionString, string? databaseName, EmbeddedPostgres? embedded, string? embeddedRoot)
    {
        ConnectionString = connectionString;
        Source = source;
        _adminConnectionString = adminConnectionString;
        _databaseName = databaseName;
        _embedded = embedded;
        _embeddedRoot = embeddedRoot;
    }

    public string ConnectionString { get; }

    /// <summary>Where the database lives, for the report (no password).</summary>
    public string Source { get; }

    public static async Task<BenchDatabase> CreateAsync(ILogger logger, CancellationToken cancellationToken)
    {
        foreach (var variable in new[] { "PLATFORM_BENCH_PG", "PLATFORM_TEST_PG" })
        {
            var admin = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrWhiteSpace(admin))
            {
                continue;
            }

            var name = string.Create(CultureInfo.InvariantCulture,
                $"bench_{DateTime.UtcNow:yyyyMMddHHmmss}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}");
            await using (var connection = await OpenAsync(admin, cancellationToken))
            await using (var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection))
            {
                await create.ExecuteNonQueryAsync(cancellationToken);
            }

            var server = new NpgsqlConnectionStringBuilder(admin);
            var connectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
            return new BenchDatabase(connectionString, $"{variable}: {server.Host}:{server.Port}/{name}", admin, name, null, null);
        }

        var root = Path.Combine(Path.GetTempPath(), $"platform-bench-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}");
        var port = FreePort.Next();
        logger.LogInformation("Neither PLATFORM_BENCH_PG nor PLATFORM_TEST_PG is set: starting an embedded PostgreSQL in {Root} on port {Port}", root, port);
        var embedded = await EmbeddedPostgres.StartAsync(Path.Combine(root, "data"), port, logger, cancellationToken);
        return new BenchDatabase(embedded.ConnectionString, $"embedded PostgreSQL 127.0.0.1:{port} ({root})", null, null, embedded, root);
    }

    /// <summary>Server facts that change the figures (durability settings, version).</summary>
    public async Task<Dictionary<string, string>> SettingsAsync(CancellationToken cancellationToken)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var connection = await OpenAsync(ConnectionString, cancellationToken);
        foreach (var name in new[] { "server_version", "fsync", "synchronous_commit", "shared_buffers", "max_connections" })
        {
            await using var show = new NpgsqlCommand($"SHOW {name}", connection);
            settings[name] = (string?)await show.ExecuteScalarAsync(cancellationToken) ?? "";
        }

        // The platform connects with the same connection string: TLS on a loopback connection costs CPU on every round trip.
        await using var ssl = new NpgsqlCommand("SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)", connection);
        settings["connection_tls"] = (bool)(await ssl.ExecuteScalarAsync(cancellationToken) ?? false) ? "on" : "off";
        return settings;
    }

    /// <summary>Runs by status and the number of failed attempts: a run that did not complete invalidates its phase.</summary>
    public async Task<(Dictionary<string, long> Runs, long FailedAttempts)> RunCountsAsync(CancellationToken cancellationToken)
    {
        var runs = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var connection = await OpenAsync(ConnectionString, cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT status, count(*) FROM platform.runs GROUP BY status", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                runs[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        await using var attempts = new NpgsqlCommand("SELECT count(*) FROM platform.attempts", connection);
        return (runs, (long)(await attempts.ExecuteScalarAsync(cancellationToken) ?? 0L));
    }

    /// <summary>
    /// Cumulative work done in this database (PostgreSQL's statistics, flushed by each backend at least once a
    /// second): commits, and rows written to the platform's and Hangfire's tables.
    /// </summary>
    public async Task<DbCounters> CountersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(ConnectionString, cancellationToken);
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()),
                   coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del) FILTER (WHERE schemaname = 'platform'), 0)::bigint,
                   coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del) FILTER (WHERE schemaname = 'hangfire'), 0)::bigint
              FROM pg_stat_user_tables
            """, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new DbCounters(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
    }

    /// <summary>
    /// Where the time between an event and its run's first step goes, by the database's clock, for runs of chains of
    /// <paramref name="steps"/> steps: ingest transaction → Hangfire job enqueued → job processing → run claimed →
    /// first step stored. Reads Hangfire's tables, so it describes the Hangfire dispatcher only; null when they are
    /// not there (another dispatcher) or not readable.
    /// </summary>
    public async Task<Dictionary<string, Stats>?> DispatchBreakdownAsync(int steps, CancellationToken cancellationToken)
    {
        const string Sql = """
            WITH r AS (
                SELECT r.id, r.created_at, r.started_at,
                       (SELECT min(s.completed_at) FROM platform.steps s WHERE s.run_id = r.id) AS first_step_at
                  FROM platform.runs r
                  JOIN platform.events e ON e.id = r.event_id
                 WHERE e.data->>'steps' = @steps),
            j AS (
                SELECT j.id, (j.arguments->>0)::jsonb #>> '{}' AS run_id,
                       (SELECT min(createdat) FROM hangfire.state s WHERE s.jobid = j.id AND s.name = 'Enqueued') AS enqueued_at,
                       (SELECT min(createdat) FROM hangfire.state s WHERE s.jobid = j.id AND s.name = 'Processing') AS processing_at
                  FROM hangfire.job j)
            SELECT extract(epoch FROM j.enqueued_at - r.created_at) * 1000,
                   extract(epoch FROM j.processing_at - j.enqueued_at) * 1000,
                   extract(epoch FROM r.started_at - j.processing_at) * 1000,
                   extract(epoch FROM r.first_step_at - r.started_at) * 1000
              FROM r
              JOIN LATERAL (SELECT * FROM j WHERE j.run_id = r.id ORDER BY j.id LIMIT 1) j ON true
             WHERE j.processing_at IS NOT NULL AND r.first_step_at IS NOT NULL
            """;
        var columns = new[] { "ingest -> enqueued", "enqueued -> processing", "processing -> claimed", "claimed -> first step stored" };
        var values = columns.Select(_ => new List<double>()).ToArray();
        try
        {
            await using var connection = await OpenAsync(ConnectionString, cancellationToken);
            await using var command = new NpgsqlCommand(Sql, connection);
            command.Parameters.AddWithValue("steps", steps.ToString(CultureInfo.InvariantCulture));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                for (var i = 0; i < columns.Length; i++)
                {
                    values[i].Add((double)reader.GetDecimal(i));
                }
            }
        }
        catch (PostgresException)
        {
            return null;
        }

        return values[0].Count == 0 ? null : columns.Zip(values).ToDictionary(c => c.First, c => Stats.Of(c.Second), StringComparer.Ordinal);
    }

    private static async Task<NpgsqlConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        if (_adminConnectionString is not null && _databaseName is not null)
        {
            await using var connection = await OpenAsync(_adminConnectionString, CancellationToken.None);
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_databaseName}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync(CancellationToken.None);
        }

        if (_embedded is not null)
        {
            await _embedded.DisposeAsync(); // pg_ctl stop -m fast; failures are logged
            try
            {
                Directory.Delete(_embeddedRoot!, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A leftover temp folder is harmless.
            }
        }
    }
}

/// <summary>Cumulative transactions and row writes (inserted + updated + deleted) by schema.</summary>
public sealed record DbCounters(long Transactions, long PlatformRows, long HangfireRows)
{
    public DbCounters Minus(DbCounters earlier) =>
        new(Transactions - earlier.Transactions, PlatformRows - earlier.PlatformRows, HangfireRows - earlier.HangfireRows);
}

public static class FreePort
{
    public static int Next()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
