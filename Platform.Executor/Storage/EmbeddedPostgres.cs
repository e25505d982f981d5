using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Platform.Executor.Storage;

/// <summary>
/// Runs a private PostgreSQL server from the machine's PostgreSQL binaries (initdb, pg_ctl, postgres),
/// so the platform can start with no database configured.
/// </summary>
/// <remarks>
/// <para>
/// Layout, for a data directory <c>D</c> with parent folder <c>P</c>: the cluster lives in <c>D</c>,
/// the server log is <c>P/postgres.log</c>, and the Unix socket folder is <c>P/&lt;name of D&gt;-socket</c>
/// (or <c>/tmp/platform-pg-&lt;hash&gt;</c> when that path would be too long for a Unix socket).
/// The server listens on 127.0.0.1 only, with trust authentication for the superuser <c>platform</c>,
/// and <c>fsync</c> and <c>synchronous_commit</c> forced on.
/// </para>
/// <para>
/// PostgreSQL refuses to run as root. When this process runs as root, every PostgreSQL command runs as
/// the OS user <c>postgres</c> through <c>runuser</c>, and the data directory, log file and socket folder are
/// chown'ed to that user. The parent folder is chown'ed only when this class created it: it may be a
/// shared folder such as <c>/tmp</c> or the repository root, and PostgreSQL never needs to write to it
/// because every file it uses there is created up front.
/// </para>
/// <para>
/// If a server is already running on the data directory (for example the postmaster of a platform process
/// that was killed with SIGKILL: pg_ctl detaches the postmaster into its own session, so it survives), it is
/// reused. One data directory serves one platform process at a time.
/// </para>
/// </remarks>
public sealed partial class EmbeddedPostgres : IAsyncDisposable
{
    private const string SuperUser = "platform";
    private const string DatabaseName = "platform";
    private const string ServiceUser = "postgres";
    private const string BinDirectoryVariable = "PLATFORM_PG_BIN";
    private const string InstallHint =
        "Install the postgresql package (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql), " +
        "set " + BinDirectoryVariable + " to the folder that holds pg_ctl, or configure ConnectionStrings__Platform to use an existing server.";

    // A Unix socket path (socket folder + "/.s.PGSQL.<port>") must fit in sockaddr_un.sun_path (108 bytes on Linux).
    private const int MaxSocketDirectoryBytes = 90;

    private static readonly string[] s_requiredBinaries = ["initdb", "pg_ctl", "postgres"];
    private static readonly TimeSpan s_quickCommandTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_initDbTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan s_startStopTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(10);

    private readonly ILogger _logger;
    private readonly CommandRunner _runner;
    private readonly string _pgCtl;
    private int _stopped;

    private EmbeddedPostgres(
        string dataDirectory, int port, string logFile, string socketDirectory, bool reusedRunningServer, string pgCtl, CommandRunner runner, ILogger logger)
    {
        DataDirectory = dataDirectory;
        Port = port;
        LogFile = logFile;
        SocketDirectory = socketDirectory;
        ReusedRunningServer = reusedRunningServer;
        _pgCtl = pgCtl;
        _runner = runner;
        _logger = logger;
        ConnectionString = BuildConnectionString(port, DatabaseName);
    }

    /// <summary>Npgsql connection string for the <c>platform</c> database (user <c>platform</c>, trust auth).</summary>
    public string ConnectionString { get; }

    /// <summary>TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Absolute path of the cluster's data directory.</summary>
    public string DataDirectory { get; }

    /// <summary>Absolute path of the server log (next to the data directory).</summary>
    public string LogFile { get; }

    /// <summary>Folder holding the server's Unix socket (<c>psql -h &lt;folder&gt; -p &lt;port&gt; -U platform</c>).</summary>
    public string SocketDirectory { get; }

    /// <summary>True when a server was already running on the data directory and was adopted instead of started.</summary>
    public bool ReusedRunningServer { get; }

    /// <summary>
    /// Initializes the data directory if needed, starts the server (or adopts one already running on the
    /// data directory), waits until it accepts connections and makes sure the <c>platform</c> database exists.
    /// </summary>
    public static async Task<EmbeddedPostgres> StartAsync(string dataDirectory, int port, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        ArgumentNullException.ThrowIfNull(logger);

        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException(
                "The embedded PostgreSQL server is supported on Linux and macOS only. Configure ConnectionStrings__Platform to use an existing PostgreSQL server.");
        }

        var dataDir = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDirectory));
        var parentDir = Path.GetDirectoryName(dataDir);
        if (string.IsNullOrEmpty(parentDir))
        {
            throw new ArgumentException("The PostgreSQL data directory must not be the filesystem root.", nameof(dataDirectory));
        }

        var binDir = await FindBinDirectoryAsync(cancellationToken).ConfigureAwait(false);
        var pgCtl = Path.Combine(binDir, "pg_ctl");
        var logFile = Path.Combine(parentDir, "postgres.log");
        var socketDir = ChooseSocketDirectory(parentDir, dataDir);

        var parentCreated = !Directory.Exists(parentDir);
        Directory.CreateDirectory(parentDir);
        Directory.CreateDirectory(socketDir);
        if (!File.Exists(logFile))
        {
            await File.WriteAllBytesAsync(logFile, [], cancellationToken).ConfigureAwait(false);
        }

        var runAsServiceUser = Environment.IsPrivilegedProcess;
        var runner = new CommandRunner(runAsServiceUser ? FindRunUser() : null, parentDir, logger);

        if (runAsServiceUser)
        {
            await PrepareForServiceUserAsync(runner, parentDir, parentCreated, dataDir, logFile, socketDir, cancellationToken).ConfigureAwait(false);
        }

        if (!File.Exists(Path.Combine(dataDir, "PG_VERSION")))
        {
            await InitializeClusterAsync(runner, binDir, dataDir, cancellationToken).ConfigureAwait(false);
        }

        SetOwnerOnlyMode(dataDir);

        var reused = await StartOrReuseServerAsync(runner, pgCtl, dataDir, port, logFile, socketDir, logger, cancellationToken).ConfigureAwait(false);
        var server = new EmbeddedPostgres(dataDir, port, logFile, socketDir, reused, pgCtl, runner, logger);
        try
        {
            await server.EnsureDatabaseAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Only stop what we started: an adopted server keeps running as it was.
            if (!reused)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        if (reused)
        {
            LogReused(logger, port, dataDir);
        }

        LogStarted(logger, port, dataDir);
        return server;
    }

    /// <summary>Stops the server (<c>pg_ctl stop -m fast -w</c>). Safe to call more than once.</summary>
    /// <remarks>
    /// The server is stopped also when it was adopted (<see cref="ReusedRunningServer"/>): such a server is
    /// the orphan of an earlier platform process on the same private data directory, nobody else owns it,
    /// and leaving it running after a graceful shutdown would leak a postmaster per crash. A process that is
    /// killed never gets here; the next start adopts its server.
    /// </remarks>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        var result = await _runner.RunAsync(
            _pgCtl, ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], s_startStopTimeout, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode == 0)
        {
            LogStopped(_logger, Port, DataDirectory);
            return;
        }

        var status = await _runner.RunAsync(_pgCtl, ["-D", DataDirectory, "status"], s_quickCommandTimeout, cancellationToken).ConfigureAwait(false);
        if (status.ExitCode == 3)
        {
            return; // Not running (anymore): nothing to stop.
        }

        throw new InvalidOperationException(
            $"Stopping the embedded PostgreSQL server failed.{Environment.NewLine}{result.Describe()}{DescribeLogTail(LogFile)}");
    }

    /// <summary>
    /// Asks the server to shut down without waiting for it and without starting a process: for exit paths that
    /// may be cut short, such as a test host's ProcessExit. The server completes the shutdown on its own;
    /// <see cref="StopAsync"/> may still be called to wait for it.
    /// </summary>
    /// <param name="immediate">
    /// False: fast shutdown (SIGINT; ends sessions, writes a shutdown checkpoint). True: immediate shutdown
    /// (SIGQUIT; no checkpoint, the next start runs crash recovery, which loses no committed data with fsync on).
    /// </param>
    /// <returns>True when the signal was sent.</returns>
    public bool RequestStop(bool immediate = false)
    {
        if (OperatingSystem.IsWindows()
            || !int.TryParse(ReadPidFileLine(DataDirectory, 0), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
            || pid <= 0)
        {
            return false;
        }

        try
        {
            // Never signal a process that merely reused the PID.
            if (File.ReadAllText($"/proc/{pid}/comm").Trim() is not ("postgres" or "postmaster"))
            {
                return false;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // No /proc (macOS): the postmaster.pid of a running server is trusted.
        }

        const int sigInt = 2;
        const int sigQuit = 3;
        return Kill(pid, immediate ? sigQuit : sigInt) == 0;
    }

    /// <summary>Stops the server; failures are logged, not thrown.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            LogStopFailed(_logger, ex, DataDirectory);
        }
    }

    private static string BuildConnectionString(int port, string database)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Username = SuperUser,
            Database = database,
            IncludeErrorDetail = true,
        };
        return builder.ConnectionString;
    }

    private async Task EnsureDatabaseAsync(CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(BuildConnectionString(Port, "postgres"))
        {
            Pooling = false,
            Timeout = 5,
        };

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

                await using (var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", connection))
                {
                    exists.Parameters.Add(new NpgsqlParameter { Value = DatabaseName });
                    if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true)
                    {
                        return;
                    }
                }

                try
                {
                    await using var create = new NpgsqlCommand($"CREATE DATABASE \"{DatabaseName}\"", connection);
                    await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DuplicateDatabase)
                {
                    // Created concurrently: fine.
                }

                return;
            }
            catch (Exception ex) when (IsTransientConnectError(ex) && deadline.Elapsed < s_connectTimeout && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                throw new InvalidOperationException(
                    $"The embedded PostgreSQL server on 127.0.0.1:{Port} (data: {DataDirectory}) did not accept connections or could not create database '{DatabaseName}': {ex.Message}{DescribeLogTail(LogFile)}",
                    ex);
            }
        }
    }

    private static bool IsTransientConnectError(Exception ex) => ex switch
    {
        // 57P03 cannot_connect_now: starting up / shutting down / in recovery.
        PostgresException pg => pg.SqlState == PostgresErrorCodes.CannotConnectNow,
        NpgsqlException or TimeoutException => true,
        _ => false,
    };

    private static async Task<bool> StartOrReuseServerAsync(
        CommandRunner runner, string pgCtl, string dataDir, int port, string logFile, string socketDir, ILogger logger, CancellationToken cancellationToken)
    {
        if (await TryAdoptRunningServerAsync(runner, pgCtl, dataDir, port, logFile, logger, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        var options = string.Join(
            ' ',
            "-p", port.ToString(CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1",
            // pg_ctl hands this string to /bin/sh, so the path is single-quoted.
            "-k", ShellQuote(socketDir),
            "-c", "fsync=on",
            "-c", "synchronous_commit=on",
            "-c", "max_connections=200");
        string[] startArgs = ["-D", dataDir, "-l", logFile, "-w", "-t", "60", "-o", options, "start"];

        var first = await runner.RunAsync(pgCtl, startArgs, s_startStopTimeout, cancellationToken).ConfigureAwait(false);
        if (first.ExitCode == 0)
        {
            return false;
        }

        // Second attempt. Another process may have started the server meanwhile (adopt it), or a
        // postmaster.pid names a PID that now belongs to an unrelated process, which makes the postmaster
        // refuse to start ("lock file already exists"): remove such a stale file and try again.
        if (await TryAdoptRunningServerAsync(runner, pgCtl, dataDir, port, logFile, logger, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        RemoveStalePidFile(dataDir, logger);
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);

        var second = await runner.RunAsync(pgCtl, startArgs, s_startStopTimeout, cancellationToken).ConfigureAwait(false);
        if (second.ExitCode == 0)
        {
            return false;
        }

        throw new InvalidOperationException(
            $"Starting the embedded PostgreSQL server on 127.0.0.1:{port} (data: {dataDir}) failed twice. Is the port already in use by another program?" +
            $"{Environment.NewLine}First attempt: {first.Describe()}{Environment.NewLine}Second attempt: {second.Describe()}{DescribeLogTail(logFile)}");
    }

    private static async Task<bool> TryAdoptRunningServerAsync(
        CommandRunner runner, string pgCtl, string dataDir, int port, string logFile, ILogger logger, CancellationToken cancellationToken)
    {
        // pg_ctl status: 0 = running, 3 = not running, 4 = no accessible data directory.
        var status = await runner.RunAsync(pgCtl, ["-D", dataDir, "status"], s_quickCommandTimeout, cancellationToken).ConfigureAwait(false);
        if (status.ExitCode != 0)
        {
            return false;
        }

        // pg_ctl only checks that the PID in postmaster.pid is alive; after a reboot or container restart
        // it may belong to some other process of the service user, which must not be mistaken for a server.
        if (RemoveStalePidFile(dataDir, logger))
        {
            return false;
        }

        // A server that is shutting down (the previous process stopped it a moment ago; the shutdown checkpoint
        // can take seconds) still counts as running but refuses connections: wait for it, then start anew.
        if (ReadPidFileLine(dataDir, 7) == "stopping")
        {
            LogWaitingForShutdown(logger, dataDir);
            var waited = Stopwatch.StartNew();
            while (status.ExitCode == 0)
            {
                if (waited.Elapsed > s_startStopTimeout)
                {
                    throw new InvalidOperationException(
                        $"The PostgreSQL server on data directory {dataDir} has been shutting down for more than {s_startStopTimeout.TotalSeconds:0} s.{DescribeLogTail(logFile)}");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
                status = await runner.RunAsync(pgCtl, ["-D", dataDir, "status"], s_quickCommandTimeout, cancellationToken).ConfigureAwait(false);
            }

            return false;
        }

        var runningPort = ReadPidFileLine(dataDir, 3);
        if (runningPort == port.ToString(CultureInfo.InvariantCulture))
        {
            return true;
        }

        // Running, but on another port (the configured port changed): restart it on ours.
        LogRestartingOnOtherPort(logger, dataDir, runningPort ?? "?", port);
        var stop = await runner.RunAsync(pgCtl, ["-D", dataDir, "-m", "fast", "-w", "-t", "60", "stop"], s_startStopTimeout, cancellationToken).ConfigureAwait(false);
        if (stop.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"A PostgreSQL server is running on data directory {dataDir} on port {runningPort}, and stopping it to restart on port {port} failed.{Environment.NewLine}{stop.Describe()}");
        }

        return false;
    }

    private static string? ReadPidFileLine(string dataDir, int index)
    {
        // postmaster.pid: PID, data directory, start time, port, socket folder, listen address, shmem key,
        // status ("starting", "stopping", "ready", "standby"; padded with spaces).
        try
        {
            var lines = File.ReadAllLines(Path.Combine(dataDir, "postmaster.pid"));
            return lines.Length > index ? lines[index].Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool RemoveStalePidFile(string dataDir, ILogger logger)
    {
        // Only when the PID is provably not a PostgreSQL process. A dead PID is handled by the postmaster
        // itself; a live "postgres" process may be an orphaned backend still attached to shared memory,
        // and the pid file is what lets the postmaster detect that, so it is left alone.
        if (!int.TryParse(ReadPidFileLine(dataDir, 0), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) || pid <= 0)
        {
            return false;
        }

        string command;
        try
        {
            command = File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // No such process (the postmaster handles that), or no /proc to tell.
        }

        if (command is "postgres" or "postmaster")
        {
            return false;
        }

        LogRemovingStalePidFile(logger, dataDir, pid, command);
        try
        {
            File.Delete(Path.Combine(dataDir, "postmaster.pid"));
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // The start attempt reports the problem.
        }
    }

    private static async Task InitializeClusterAsync(CommandRunner runner, string binDir, string dataDir, CancellationToken cancellationToken)
    {
        if (Directory.Exists(dataDir))
        {
            if (Directory.EnumerateFileSystemEntries(dataDir).Any())
            {
                throw new InvalidOperationException(
                    $"The PostgreSQL data directory {dataDir} is not empty but holds no cluster (no PG_VERSION file). Remove it or choose another data directory.");
            }

            Directory.Delete(dataDir);
        }

        // initdb runs into a scratch folder that is renamed into place when complete, so a process killed
        // during initdb never leaves a half-initialized cluster that looks valid (PG_VERSION is written early).
        var scratch = dataDir + ".initdb";
        var initDb = Path.Combine(binDir, "initdb");
        string[] common = ["-D", scratch, "-U", SuperUser, "--auth=trust", "--encoding=UTF8"];

        var first = await RunInitDbAsync(runner, initDb, scratch, [.. common, "--locale=C.UTF-8"], cancellationToken).ConfigureAwait(false);
        if (first.ExitCode != 0)
        {
            // Most likely the C.UTF-8 locale is missing (older distributions, macOS): fall back to --no-locale.
            var second = await RunInitDbAsync(runner, initDb, scratch, [.. common, "--no-locale"], cancellationToken).ConfigureAwait(false);
            if (second.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"initdb failed for {dataDir}.{Environment.NewLine}With --locale=C.UTF-8: {first.Describe()}{Environment.NewLine}With --no-locale: {second.Describe()}");
            }
        }

        Directory.Move(scratch, dataDir);
    }

    private static async Task<CommandResult> RunInitDbAsync(
        CommandRunner runner, string initDb, string scratch, string[] args, CancellationToken cancellationToken)
    {
        if (Directory.Exists(scratch))
        {
            Directory.Delete(scratch, recursive: true);
        }

        Directory.CreateDirectory(scratch);
        if (runner.RunsAsServiceUser)
        {
            await ChownAsync(runner, scratch, recursive: false, cancellationToken).ConfigureAwait(false);
        }

        SetOwnerOnlyMode(scratch);
        return await runner.RunAsync(initDb, args, s_initDbTimeout, cancellationToken).ConfigureAwait(false);
    }

    [UnsupportedOSPlatform("windows")]
    private static async Task PrepareForServiceUserAsync(
        CommandRunner runner, string parentDir, bool parentCreated, string dataDir, string logFile, string socketDir, CancellationToken cancellationToken)
    {
        var id = await CommandRunner.RunDirectAsync("id", ["-u", ServiceUser], parentDir, s_quickCommandTimeout, cancellationToken).ConfigureAwait(false);
        if (id.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"This process runs as root, and PostgreSQL refuses to run as root, so the embedded server runs as the OS user '{ServiceUser}', which does not exist. " +
                $"Create it (the postgresql package does), run the platform as a non-root user, or configure ConnectionStrings__Platform.{Environment.NewLine}{id.Describe()}");
        }

        if (parentCreated)
        {
            await ChownAsync(runner, parentDir, recursive: false, cancellationToken).ConfigureAwait(false);
        }

        await ChownAsync(runner, logFile, recursive: false, cancellationToken).ConfigureAwait(false);
        await ChownAsync(runner, socketDir, recursive: false, cancellationToken).ConfigureAwait(false);
        if (Directory.Exists(dataDir))
        {
            // Also repairs files that root touched since (restored backup, copied files).
            await ChownAsync(runner, dataDir, recursive: true, cancellationToken).ConfigureAwait(false);
        }

        // PostgreSQL never writes to the parent folder itself (root creates the data directory and log file),
        // but it must be able to get through it; the socket folder it must be able to write to.
        await EnsureServiceUserCanReachAsync(runner, parentDir, requireWrite: false, dataDir, cancellationToken).ConfigureAwait(false);
        await EnsureServiceUserCanReachAsync(runner, socketDir, requireWrite: true, dataDir, cancellationToken).ConfigureAwait(false);
    }

    private static async Task EnsureServiceUserCanReachAsync(
        CommandRunner runner, string directory, bool requireWrite, string dataDir, CancellationToken cancellationToken)
    {
        string[] check = requireWrite ? ["-x", directory, "-a", "-w", directory] : ["-x", directory];
        if ((await runner.RunAsync("test", check, s_quickCommandTimeout, cancellationToken).ConfigureAwait(false)).ExitCode == 0)
        {
            return;
        }

        // Find the first folder on the way down that the service user cannot traverse.
        var chain = new List<string>();
        for (var current = directory; !string.IsNullOrEmpty(current); current = Path.GetDirectoryName(current))
        {
            chain.Add(current);
        }

        chain.Reverse();
        var blocked = directory;
        var reason = "write";
        foreach (var folder in chain)
        {
            if ((await runner.RunAsync("test", ["-x", folder], s_quickCommandTimeout, cancellationToken).ConfigureAwait(false)).ExitCode != 0)
            {
                blocked = folder;
                reason = "traverse (search)";
                break;
            }
        }

        throw new InvalidOperationException(
            $"This process runs as root, so the embedded PostgreSQL server runs as the OS user '{ServiceUser}' (PostgreSQL refuses to run as root), " +
            $"but '{ServiceUser}' cannot {reason} the folder '{blocked}' (needed for the data directory '{dataDir}'). " +
            $"Grant access (for example: chmod o+x '{blocked}'), choose a data directory elsewhere, or configure ConnectionStrings__Platform.");
    }

    private static async Task ChownAsync(CommandRunner runner, string path, bool recursive, CancellationToken cancellationToken)
    {
        string[] args = recursive ? ["-R", $"{ServiceUser}:", path] : [$"{ServiceUser}:", path];
        var result = await CommandRunner.RunDirectAsync("chown", args, runner.WorkingDirectory, s_initDbTimeout, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"Could not hand '{path}' to the OS user '{ServiceUser}'.{Environment.NewLine}{result.Describe()}");
        }
    }

    private static void SetOwnerOnlyMode(string directory)
    {
        if (!OperatingSystem.IsWindows())
        {
            // PostgreSQL requires 0700 (or 0750) on the data directory. Root may chmod a folder it does not own.
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static string ChooseSocketDirectory(string parentDir, string dataDir)
    {
        var preferred = Path.Combine(parentDir, Path.GetFileName(dataDir) + "-socket");
        if (Encoding.UTF8.GetByteCount(preferred) <= MaxSocketDirectoryBytes)
        {
            return preferred;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(dataDir)))[..16];
        return $"/tmp/platform-pg-{hash}";
    }

    private static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string FindRunUser()
    {
        if (File.Exists("/usr/sbin/runuser"))
        {
            return "/usr/sbin/runuser";
        }

        return FindOnPath("runuser") ?? throw new InvalidOperationException(
            $"This process runs as root and PostgreSQL refuses to run as root, so the embedded server must run as the OS user '{ServiceUser}' via runuser, " +
            "which was not found (/usr/sbin/runuser or on PATH; it is part of util-linux). Run the platform as a non-root user or configure ConnectionStrings__Platform.");
    }

    private static async Task<string> FindBinDirectoryAsync(CancellationToken cancellationToken)
    {
        var searched = new List<string>();

        var fromEnvironment = Environment.GetEnvironmentVariable(BinDirectoryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            // An explicit setting that is wrong is an error, not a reason to silently pick other binaries.
            return HasServerBinaries(fromEnvironment)
                ? Path.GetFullPath(fromEnvironment)
                : throw new InvalidOperationException(
                    $"{BinDirectoryVariable} is set to '{fromEnvironment}', but that folder does not contain {string.Join(", ", s_requiredBinaries)}.");
        }

        searched.Add($"{BinDirectoryVariable} (not set)");

        var pgConfig = FindOnPath("pg_config");
        if (pgConfig is null)
        {
            searched.Add("`pg_config --bindir` (pg_config is not on PATH)");
        }
        else
        {
            try
            {
                var result = await CommandRunner.RunDirectAsync(pgConfig, ["--bindir"], Path.GetTempPath(), s_quickCommandTimeout, cancellationToken).ConfigureAwait(false);
                var dir = result.StandardOutput.Trim();
                if (result.ExitCode == 0 && HasServerBinaries(dir))
                {
                    return dir;
                }

                // Debian's libpq-dev pg_config reports the client's folder, which may lack the server binaries.
                searched.Add($"`{pgConfig} --bindir` ({(result.ExitCode == 0 ? $"'{dir}' lacks the server binaries" : $"exit code {result.ExitCode}")})");
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
            {
                searched.Add($"`{pgConfig} --bindir` ({ex.Message})");
            }
        }

        const string debianRoot = "/usr/lib/postgresql";
        var best = Directory.Exists(debianRoot)
            ? Directory.EnumerateDirectories(debianRoot)
                .Select(dir => (Bin: Path.Combine(dir, "bin"), Version: ParseVersion(Path.GetFileName(dir))))
                .Where(candidate => candidate.Version is not null && HasServerBinaries(candidate.Bin))
                .OrderByDescending(candidate => candidate.Version)
                .Select(candidate => candidate.Bin)
                .FirstOrDefault()
            : null;
        if (best is not null)
        {
            return best;
        }

        searched.Add($"{debianRoot}/*/bin (none with the server binaries)");

        // Last resort: pg_ctl on PATH (Homebrew, /usr/local/bin symlinks), resolved to its real folder.
        var pgCtlOnPath = FindOnPath("pg_ctl");
        if (pgCtlOnPath is not null)
        {
            var target = File.ResolveLinkTarget(pgCtlOnPath, returnFinalTarget: true)?.FullName ?? pgCtlOnPath;
            var dir = Path.GetDirectoryName(target);
            if (dir is not null && HasServerBinaries(dir))
            {
                return dir;
            }

            searched.Add($"pg_ctl on PATH ('{target}' has no initdb/postgres next to it)");
        }
        else
        {
            searched.Add("pg_ctl on PATH (not found)");
        }

        throw new InvalidOperationException(
            $"No PostgreSQL server binaries ({string.Join(", ", s_requiredBinaries)}) found for the embedded database. Looked at: {string.Join("; ", searched)}. {InstallHint}");
    }

    private static Version? ParseVersion(string name) =>
        Version.TryParse(name.Contains('.', StringComparison.Ordinal) ? name : name + ".0", out var version) ? version : null;

    private static bool HasServerBinaries(string directory) =>
        Directory.Exists(directory) && s_requiredBinaries.All(name => File.Exists(Path.Combine(directory, name)));

    private static string? FindOnPath(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH");
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }

        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string DescribeLogTail(string logFile)
    {
        const int maxBytes = 4096;
        try
        {
            using var stream = new FileStream(logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length == 0)
            {
                return string.Empty;
            }

            stream.Seek(Math.Max(0, stream.Length - maxBytes), SeekOrigin.Begin);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var tail = reader.ReadToEnd();
            return $"{Environment.NewLine}End of the server log {logFile}:{Environment.NewLine}{tail.TrimEnd()}";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded PostgreSQL started on 127.0.0.1:{Port} (data: {DataDirectory})")]
    private static partial void LogStarted(ILogger logger, int port, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reusing the PostgreSQL server already running on 127.0.0.1:{Port} for data directory {DataDirectory}")]
    private static partial void LogReused(ILogger logger, int port, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Embedded PostgreSQL on 127.0.0.1:{Port} stopped (data: {DataDirectory})")]
    private static partial void LogStopped(ILogger logger, int port, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping the embedded PostgreSQL server (data: {DataDirectory}) failed")]
    private static partial void LogStopFailed(ILogger logger, Exception exception, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A PostgreSQL server is running on data directory {DataDirectory} on port {RunningPort}; restarting it on port {Port}")]
    private static partial void LogRestartingOnOtherPort(ILogger logger, string dataDirectory, string runningPort, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "The PostgreSQL server on data directory {DataDirectory} is shutting down; waiting for it before starting it again")]
    private static partial void LogWaitingForShutdown(ILogger logger, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Removing stale postmaster.pid in {DataDirectory}: PID {Pid} now belongs to '{Command}'")]
    private static partial void LogRemovingStalePidFile(ILogger logger, string dataDirectory, int pid, string command);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Command} exited with {ExitCode}: {Output}")]
    private static partial void LogCommand(ILogger logger, string command, int exitCode, string output);

    private sealed record CommandResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError)
    {
        public string Describe()
        {
            var text = new StringBuilder()
                .Append("Command: ").Append(CommandLine).Append(" (exit code ").Append(ExitCode.ToString(CultureInfo.InvariantCulture)).Append(')');
            if (!string.IsNullOrWhiteSpace(StandardOutput))
            {
                text.Append(Environment.NewLine).Append("stdout: ").Append(StandardOutput.TrimEnd());
            }

            if (!string.IsNullOrWhiteSpace(StandardError))
            {
                text.Append(Environment.NewLine).Append("stderr: ").Append(StandardError.TrimEnd());
            }

            return text.ToString();
        }
    }

    /// <summary>Runs PostgreSQL commands, as the 'postgres' OS user through runuser when this process is root.</summary>
    private sealed class CommandRunner(string? runUser, string workingDirectory, ILogger logger)
    {
        public bool RunsAsServiceUser => runUser is not null;

        public string WorkingDirectory => workingDirectory;

        public async Task<CommandResult> RunAsync(string fileName, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var result = runUser is null
                ? await RunDirectAsync(fileName, arguments, workingDirectory, timeout, cancellationToken).ConfigureAwait(false)
                : await RunDirectAsync(runUser, ["-u", ServiceUser, "--", fileName, .. arguments], workingDirectory, timeout, cancellationToken).ConfigureAwait(false);
            LogCommand(logger, result.CommandLine, result.ExitCode, (result.StandardOutput + result.StandardError).Trim());
            return result;
        }

        public static async Task<CommandResult> RunDirectAsync(
            string fileName, IReadOnlyList<string> arguments, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
        {
            var startInfo = new ProcessStartInfo(fileName)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                // The service user must be able to enter it (root's home usually is not).
                WorkingDirectory = workingDirectory,
            };
            foreach (var argument in arguments)
            {
                startInfo.ArgumentList.Add(argument);
            }

            var commandLine = string.Join(' ', arguments.Prepend(fileName).Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a));
            var stdout = new StringBuilder();
            var stderr = new StringBuilder();
            using var process = new Process { StartInfo = startInfo };
            process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
            process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);

            try
            {
                process.Start();
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                throw new InvalidOperationException($"Could not run {commandLine}: {ex.Message}", ex);
            }

            process.StandardInput.Close();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutSource.CancelAfter(timeout);
            try
            {
                await process.WaitForExitAsync(timeoutSource.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // Already exited.
                }

                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException(
                    $"{commandLine} did not finish within {timeout.TotalSeconds:0} s.{Environment.NewLine}{new CommandResult(commandLine, -1, Read(stdout), Read(stderr)).Describe()}");
            }

            return new CommandResult(commandLine, process.ExitCode, Read(stdout), Read(stderr));
        }

        private static void Append(StringBuilder builder, string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (builder)
            {
                builder.AppendLine(line);
            }
        }

        private static string Read(StringBuilder builder)
        {
            lock (builder)
            {
                return builder.ToString();
            }
        }
    }
}
