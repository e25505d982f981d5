using System.Diagnostics;

namespace Platform.Benchmarks;

/// <summary>Order statistics over a sample (nearest-rank percentiles, no interpolation).</summary>
public sealed record Stats(int Count, double Min, double P50, double P90, double P99, double Max, double Mean)
{
    public static Stats Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return new Stats(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }

        return new Stats(sorted.Length, R(sorted[0]), R(Rank(sorted, 0.50)), R(Rank(sorted, 0.90)), R(Rank(sorted, 0.99)), R(sorted[^1]), R(sorted.Average()));
    }

    private static double R(double value) => Math.Round(value, 4);

    private static double Rank(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}

/// <summary>Stopwatch timestamps (one monotonic clock shared by the driver and the in-process app) to milliseconds.</summary>
public static class Clock
{
    public static long Now => Stopwatch.GetTimestamp();

    public static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    public static double MsBetween(long from, long to) => Ms(to - from);
}
