using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Platform.Executor.Storage;

namespace Platform.Tests.Infrastructure;

/// <summary>
/// The PostgreSQL server shared by every test in the process; each test gets its own database from
/// <see cref="CreateDatabaseAsync"/>. Tests never skip: without PostgreSQL they fail with a clear message.
/// </summary>
/// <remarks>
/// <para>
/// With <c>PLATFORM_TEST_PG</c> set (an Npgsql connection string for a user that may create databases)
/// that server is used. Otherwise an <see cref="EmbeddedPostgres"/> runs from the machine's PostgreSQL
/// binaries on 127.0.0.1:55432, with its cluster in <c>$TMPDIR/platform-tests-pg/data</c> (log, socket folder
/// and lock files next to it in <c>$TMPDIR/platform-tests-pg</c>). Either server must run with fsync and
/// synchronous_commit on.
/// </para>
/// <para>
/// Several test processes may share the embedded server (parallel <c>dotnet test</c> runs): each holds a shared
/// lock on <c>users.lock</c> while it runs and starts are serialized by <c>start.lock</c>. A process that finds no
/// other user wipes whatever earlier runs left (server, cluster, databases) and starts a fresh cluster; the last
/// process to exit stops the server.
/// </para>
/// <para>
/// Cleanup at exit is best effort: the test host kills the process about 100 ms after the run
/// (microsoft/vstest#1873). Databases are tagged with the creating process (a database comment), so what an
/// exiting process could not drop is dropped by the next test process, also on a <c>PLATFORM_TEST_PG</c> server.
/// </para>
/// </remarks>
public sealed partial class PostgresServer
{
    private const string ConnectionVariable = "PLATFORM_TEST_PG";
    private const int EmbeddedPort = 55432;
    private const string RequiredMessage =
        "PostgreSQL is required for these tests: set PLATFORM_TEST_PG or install the postgresql package";
    private const string OwnerTagPrefix = "platform-tests";

    private static readonly Lazy<Task<PostgresServer>> s_instance =
        new(() => Task.Run(CreateAsync), LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly TimeSpan s_lockTimeout = TimeSpan.FromMinutes(3);

    // "platform-tests host=<machine> pid=<pid> start=<process start, UTC ticks>": identifies the creating process
    // even when its PID is reused later.
    private static readonly Lazy<string> s_ownerTag = new(() => OwnerTag(Environment.ProcessId, CurrentProcessStartTicks()));

    private readonly string _adminConnectionString;
    private readonly EmbeddedPostgres? _embedded;
    private readonly string _usersLockPath;
    private readonly List<string> _createdDatabases = [];
    private FileStream? _usersLock;

    private PostgresServer(string adminConnectionString, EmbeddedPostgres? embedded, FileStream? usersLock, string usersLockPath)
    {
        _adminConnectionString = adminConnectionString;
        _embedded = embedded;
        _usersLock = usersLock;
        _usersLockPath = usersLockPath;
    }

    /// <summary>Connection string with the right to create databases (do not drop or alter what it points at).</summary>
    public string AdminConnectionString => _adminConnectionString;

    /// <summary>True when the tests run against the embedded server rather than <c>PLATFORM_TEST_PG</c>.</summary>
    public bool IsEmbedded => _embedded is not null;

    /// <summary>The process-wide server, started (or connected to) on first use.</summary>
    public static Task<PostgresServer> GetAsync() => s_instance.Value;

    /// <summary>
    /// Creates an empty database named <c>{prefix}_{8 random hex chars}</c> and returns its connection string.
    /// </summary>
    /// <param name="prefix">
    /// Typically the test's name. Lowercased; characters other than a-z, 0-9 and _ become _; cut to 54 characters.
    /// </param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    public async Task<string> CreateDatabaseAsync(string prefix, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        var cleaned = string.Concat(prefix.ToLowerInvariant().Select(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' ? c : '_'));
        var name = $"{cleaned[..Math.Min(cleaned.Length, 54)]}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        await using (var connection = await OpenAdminConnectionAsync(cancellationToken).ConfigureAwait(false))
        {
            await ExecuteAsync(connection, $"CREATE DATABASE \"{name}\"", cancellationToken).ConfigureAwait(false);
            lock (_createdDatabases)
            {
                _createdDatabases.Add(name);
            }

            await ExecuteAsync(connection, $"COMMENT ON DATABASE \"{name}\" IS '{s_ownerTag.Value.Replace("'", "''", StringComparison.Ordinal)}'", cancellationToken)
                .ConfigureAwait(false);
        }

        return new NpgsqlConnectionStringBuilder(_adminConnectionString) { Database = name, IncludeErrorDetail = true }.ConnectionString;
    }

    private static string OwnerTag(int pid, long startTicks) =>
        string.Create(CultureInfo.InvariantCulture, $"{OwnerTagPrefix} host={Environment.MachineName} pid={pid} start={startTicks}");

    private static long CurrentProcessStartTicks()
    {
        using var process = Process.GetCurrentProcess();
        return process.StartTime.ToUniversalTime().Ticks;
    }

    private static async Task<PostgresServer> CreateAsync()
    {
        PostgresServer server;
        var external = Environment.GetEnvironmentVariable(ConnectionVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            try
            {
                server = new PostgresServer(external, embedded: null, usersLock: null, usersLockPath: string.Empty);
                await server.VerifyAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or ArgumentException or TimeoutException)
            {
                throw new InvalidOperationException(
                    $"{RequiredMessage}. {ConnectionVariable} is set, but that server cannot be used: {ex.Message}", ex);
            }
        }
        else
        {
            server = await StartEmbeddedAsync().ConfigureAwait(false);
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Shutdown();
        try
        {
            await server.DropAbandonedDatabasesAsync().ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            // Housekeeping only; the tests can run without it.
        }

        return server;
    }

    private static async Task<PostgresServer> StartEmbeddedAsync()
    {
        var root = Path.Combine(Path.GetTempPath(), "platform-tests-pg");
        var dataDir = Path.Combine(root, "data");
        var usersLockPath = Path.Combine(root, "users.lock");
        FileStream? usersLock = null;
        try
        {
            Directory.CreateDirectory(root);
            EmbeddedPostgres embedded;
            await using (await AcquireLockAsync(Path.Combine(root, "start.lock"), FileShare.None).ConfigureAwait(false))
            {
                var sole = TryLock(usersLockPath, FileShare.None);
                if (sole is not null)
                {
                    // No other test process uses the server: whatever runs or remains was left by earlier runs (killed,
                    // or cut off by the test host while exiting), databases included. Start from a fresh cluster.
                    await using (sole.ConfigureAwait(false))
                    {
                        await WipeClusterAsync(dataDir).ConfigureAwait(false);
                    }
                }

                // Shared while this process uses the server; waits while another process is stopping it.
                usersLock = await AcquireLockAsync(usersLockPath, FileShare.ReadWrite).ConfigureAwait(false);
                embedded = await EmbeddedPostgres.StartAsync(dataDir, EmbeddedPort, NullLogger.Instance, CancellationToken.None)
                    .ConfigureAwait(false);
            }

            var server = new PostgresServer(embedded.ConnectionString, embedded, usersLock, usersLockPath);
            await server.VerifyAsync().ConfigureAwait(false);
            return server;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            if (usersLock is not null)
            {
                await usersLock.DisposeAsync().ConfigureAwait(false);
            }

            if (ex is DurabilityException)
            {
                throw;
            }

            throw new InvalidOperationException(
                $"{RequiredMessage}. Starting the embedded PostgreSQL server (port {EmbeddedPort}, data under {root}) failed: {ex.Message}", ex);
        }
    }

    private static async Task WipeClusterAsync(string dataDir)
    {
        if (IsPostmasterRunning(dataDir))
        {
            // Adopt the leftover server only to stop it; its data is deleted next, so no shutdown checkpoint.
            var leftover = await EmbeddedPostgres.StartAsync(dataDir, EmbeddedPort, NullLogger.Instance, CancellationToken.None).ConfigureAwait(false);
            leftover.RequestStop(immediate: true);
            await leftover.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        if (Directory.Exists(dataDir))
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static bool IsPostmasterRunning(string dataDir)
    {
        try
        {
            var pidLine = File.ReadLines(Path.Combine(dataDir, "postmaster.pid")).FirstOrDefault();
            return int.TryParse(pidLine, NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                && File.ReadAllText($"/proc/{pid}/comm").Trim() == "postgres";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // No pid file (cleanly stopped) or no such process (crashed, or killed immediately).
        }
    }

    private async Task VerifyAsync()
    {
        await using var connection = await OpenAdminConnectionAsync(CancellationToken.None).ConfigureAwait(false);
        foreach (var setting in new[] { "fsync", "synchronous_commit" })
        {
            await using var show = new NpgsqlCommand($"SHOW {setting}", connection);
            var value = (string?)await show.ExecuteScalarAsync().ConfigureAwait(false);
            if (value != "on")
            {
                throw new DurabilityException(
                    $"The test PostgreSQL server ({Describe()}) has {setting}={value}; the tests require fsync=on and synchronous_commit=on " +
                    "because they check that acknowledged writes are durable.");
            }
        }
    }

    private string Describe()
    {
        var builder = new NpgsqlConnectionStringBuilder(_adminConnectionString);
        return $"{builder.Host}:{builder.Port.ToString(CultureInfo.InvariantCulture)}";
    }

    private async Task<NpgsqlConnection> OpenAdminConnectionAsync(CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(_adminConnectionString)
        {
            // A database that is dropped must not have pooled admin connections in it.
            Pooling = false,
            IncludeErrorDetail = true,
        };
        if (string.IsNullOrEmpty(builder.Database) && _embedded is not null)
        {
            builder.Database = "postgres";
        }

        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task DropAbandonedDatabasesAsync()
    {
        // Databases of earlier test processes on this machine that are gone (killed, or cut off while exiting).
        var abandoned = new List<string>();
        await using var connection = await OpenAdminConnectionAsync(CancellationToken.None).ConfigureAwait(false);
        await using (var query = new NpgsqlCommand(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE shobj_description(oid, 'pg_database') LIKE $1",
            connection))
        {
            query.Parameters.Add(new NpgsqlParameter { Value = $"{OwnerTagPrefix} host={Environment.MachineName} %" });
            await using var reader = await query.ExecuteReaderAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                var match = OwnerTagPattern().Match(reader.GetString(1));
                if (match.Success && !IsProcessAlive(
                    int.Parse(match.Groups["pid"].ValueSpan, CultureInfo.InvariantCulture),
                    long.Parse(match.Groups["start"].ValueSpan, CultureInfo.InvariantCulture)))
                {
                    abandoned.Add(reader.GetString(0));
                }
            }
        }

        await DropDatabasesAsync(connection, abandoned, CancellationToken.None).ConfigureAwait(false);
    }

    private static bool IsProcessAlive(int pid, long startTicks)
    {
        Process process;
        try
        {
            process = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            return false; // No such process.
        }

        using (process)
        {
            try
            {
                // Start times are derived from the boot time and may differ by some milliseconds between readers;
                // a different process that reused the PID started much later.
                return Math.Abs(process.StartTime.ToUniversalTime().Ticks - startTicks) < TimeSpan.TicksPerSecond * 2;
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
            {
                return true; // Cannot tell: keep its databases.
            }
        }
    }

    private static async Task DropDatabasesAsync(NpgsqlConnection connection, IEnumerable<string> names, CancellationToken cancellationToken)
    {
        foreach (var name in names)
        {
            try
            {
                // FORCE (PostgreSQL 13+) ends leftover pooled connections of the tests.
                await ExecuteAsync(connection, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.SyntaxError)
            {
                await ExecuteAsync(connection, $"DROP DATABASE IF EXISTS \"{name}\"", cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException)
            {
                // In use by a live process after all: leave it for a later run.
            }
        }
    }

    private void Shutdown()
    {
        // Runs on ProcessExit, and the test host kills the process about 100 ms after the run ends, so what
        // matters comes first and what is cut off is cleaned up by the next run.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        if (_embedded is not null && _usersLock is not null)
        {
            _usersLock.Dispose();
            _usersLock = null;
            using var exclusive = TryLock(_usersLockPath, FileShare.None);
            if (exclusive is not null)
            {
                // Last user: stop the server. The signal goes first because the test host may kill this process at
                // any moment; the server then shuts down on its own. Immediate shutdown skips the checkpoint (seconds
                // of fsync after many CREATE DATABASE): the next run wipes this cluster, or recovers it from WAL.
                try
                {
                    _embedded.RequestStop(immediate: true);
                    _embedded.StopAsync(timeout.Token).GetAwaiter().GetResult();
                }
                catch (Exception)
                {
                    // The next run adopts and wipes it.
                }

                return;
            }
        }

        try
        {
            string[] created;
            lock (_createdDatabases)
            {
                created = [.. _createdDatabases];
            }

            if (created.Length > 0)
            {
                using var connection = OpenAdminConnectionAsync(timeout.Token).GetAwaiter().GetResult();
                DropDatabasesAsync(connection, created, timeout.Token).GetAwaiter().GetResult();
            }
        }
        catch (Exception)
        {
            // Best effort: the next test process drops what is left.
        }
    }

    private static FileStream? TryLock(string path, FileShare share)
    {
        try
        {
            // On Unix .NET takes flock(LOCK_EX) for FileShare.None and flock(LOCK_SH) otherwise.
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, share);
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static async Task<FileStream> AcquireLockAsync(string path, FileShare share)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (TryLock(path, share) is { } stream)
            {
                return stream;
            }

            if (waited.Elapsed > s_lockTimeout)
            {
                throw new TimeoutException($"Waited {s_lockTimeout.TotalMinutes:0} minutes for the lock {path} held by another test process.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
        }
    }

    [GeneratedRegex(@"^platform-tests host=\S+ pid=(?<pid>\d+) start=(?<start>\d+)$")]
    private static partial Regex OwnerTagPattern();

    private sealed class DurabilityException(string message) : Exception(message);
}
