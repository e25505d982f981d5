namespace Platform.Benchmarks;

/// <summary>How much of everything to measure. <c>--quick</c> cuts every repetition so a run takes under a minute.</summary>
public sealed record BenchOptions(
    bool Quick,
    int WarmupRuns,
    IReadOnlyList<ChainPlan> Chains,
    int LatencyEvents,
    int InFlight,
    int ThroughputStepsPerRun,
    TimeSpan ThroughputRamp,
    TimeSpan ThroughputWindow,
    int IngestBatchSize,
    int IngestSenders,
    TimeSpan IngestWindow,
    TimeSpan SingleIngestWindow)
{
    public static BenchOptions Full { get; } = new(
        Quick: false,
        WarmupRuns: 30,
        Chains: [new(1, 20), new(10, 20), new(100, 8), new(1000, 1)],
        LatencyEvents: 200,
        InFlight: 32,
        ThroughputStepsPerRun: 10,
        ThroughputRamp: TimeSpan.FromSeconds(2),
        ThroughputWindow: TimeSpan.FromSeconds(10),
        IngestBatchSize: 500,
        IngestSenders: 8,
        IngestWindow: TimeSpan.FromSeconds(10),
        SingleIngestWindow: TimeSpan.FromSeconds(5));

    public static BenchOptions QuickRun { get; } = Full with
    {
        Quick = true,
        WarmupRuns = 6,
        Chains = [new(1, 5), new(10, 5), new(100, 2), new(1000, 1)],
        LatencyEvents = 30,
        ThroughputRamp = TimeSpan.FromSeconds(1),
        ThroughputWindow = TimeSpan.FromSeconds(3),
        IngestWindow = TimeSpan.FromSeconds(3),
        SingleIngestWindow = TimeSpan.FromSeconds(2),
    };
}

/// <summary>Runs of a chain of <paramref name="Steps"/> no-op steps, measured one after the other.</summary>
public sealed record ChainPlan(int Steps, int Runs);
