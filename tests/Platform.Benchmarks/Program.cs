using System.Runtime.InteropServices;
using Platform.Benchmarks;

// dotnet run -c Release --project tests/Platform.Benchmarks -- [--quick]
if (args.Any(a => a is "-h" or "--help"))
{
    Console.WriteLine("""
        Usage: dotnet run -c Release --project tests/Platform.Benchmarks -- [--quick]

        Starts a fresh database (PLATFORM_BENCH_PG, else PLATFORM_TEST_PG, else an embedded PostgreSQL), the platform
        as a child process and an in-process no-op app; prints the figures of brief.md section 5 next to their targets
        and writes them to artifacts/bench/<timestamp>.json. --quick cuts every repetition (under a minute).
        """);
    return 0;
}

if (args.FirstOrDefault(a => a != "--quick") is { } unknown)
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
    return await BenchRunner.RunAsync(args.Contains("--quick") ? BenchOptions.QuickRun : BenchOptions.Full, cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("Cancelled; the platform and the database were stopped.");
    return 130;
}
