using System.Runtime.InteropServices;
using Platform.Benchmarks;

// dotnet run -c Release --project tests/Platform.Benchmarks -- [--quick | --dashboard [--runs N]]
if (args.Any(a => a is "-h" or "--help"))
{
    Console.WriteLine("""
        Usage: dotnet run -c Release --project tests/Platform.Benchmarks -- [--quick | --dashboard [--runs N]]

        Starts a fresh database (PLATFORM_BENCH_PG, else PLATFORM_TEST_PG, else an embedded PostgreSQL), the platform
        as a child process and an in-process no-op app; prints the figures of brief.md section 5 next to their targets
        and writes them to artifacts/bench/<timestamp>.json. --quick cuts every repetition (under a minute).
        --dashboard seeds N runs (default 1,000,000) with their events into a fresh database and times the runs and apps
        pages' queries and their server render (medians), writing artifacts/bench/<timestamp>-dashboard.json.
        """);
    return 0;
}

var dashboard = args.Contains("--dashboard");
var runs = 1_000_000;
var runsAt = Array.IndexOf(args, "--runs");
if (runsAt >= 0 && (runsAt + 1 >= args.Length || !int.TryParse(args[runsAt + 1], out runs) || runs < 1000))
{
    Console.Error.WriteLine("--runs takes a number of runs, at least 1000");
    return 2;
}

if (args.Where((a, i) => a is not ("--quick" or "--dashboard" or "--runs") && !(runsAt >= 0 && i == runsAt + 1)).FirstOrDefault() is { } unknown)
{
    Console.Error.WriteLine($"Unknown argument '{unknown}' (try --help)");
    return 2;
}

using var cancel = new CancellationTokenSource();

// Ctrl+C or a SIGTERM (e.g. from `timeout`): stop measuring and clean up (platform, database) instead of dying
// with the children left behind.
void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    cancel.Cancel();
}

using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

try
{
    return dashboard
        ? await DashboardBench.RunAsync(runs, repetitions: 7, cancel.Token)
        : await BenchRunner.RunAsync(args.Contains("--quick") ? BenchOptions.QuickRun : BenchOptions.Full, cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("Cancelled; the platform and the database were stopped.");
    return 130;
}
