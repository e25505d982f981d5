using System.Globalization;
using System.Text;

namespace Platform.Benchmarks;

/// <summary>One line of the final table: a figure, its spread, and the target of brief.md §5 next to it.</summary>
public sealed record ReportRow(
    string Figure,
    string Unit,
    double P50,
    double? P90,
    double? P99,
    string Target,
    bool? Met,
    string Reference,
    string Note);

/// <summary>Everything one benchmark run measured, as written to <c>artifacts/bench/&lt;timestamp&gt;.json</c>.</summary>
public sealed record BenchReport(
    DateTimeOffset StartedAt,
    double DurationSeconds,
    bool Quick,
    string Configuration,
    string Commit,
    Dictionary<string, string> Machine,
    string Database,
    Dictionary<string, string> DatabaseSettings,
    IReadOnlyList<ReportRow> Table,
    IReadOnlyList<OverheadResult> Overhead,
    double? OverheadRatio1000To10,
    double? OverheadRatio1000To10AfterDispatch,
    ThroughputResult Throughput,
    LatencyResult FirstStep,
    Dictionary<string, Stats>? FirstStepBreakdown,
    IngestResult IngestBatches,
    IngestResult IngestSingle,
    Dictionary<string, CpuUse> CpuByPhase,
    Dictionary<string, PhaseDbUse> DbByPhase,
    Dictionary<string, long> RunsByStatus,
    long FailedAttempts,
    long RepeatedCalls,
    IReadOnlyList<string> Warnings);

/// <summary>Database work during a phase, next to the calls the app received in it.</summary>
public sealed record PhaseDbUse(long AppCalls, DbCounters Db);

public static class Report
{
    public static List<ReportRow> Rows(
        IReadOnlyList<OverheadResult> overhead, double? ratio, double? ratioAfterDispatch, ThroughputResult throughput, LatencyResult latency, Dictionary<string, Stats>? breakdown, IngestResult batches, IngestResult single)
    {
        var rows = new List<ReportRow>();
        foreach (var o in overhead)
        {
            // For one step the dispatch of a new run (figure 3) is most of the wall time, so it gets no target of its own.
            var target = o.Steps >= 10 ? "<= 3 ms" : "(dispatch-bound)";
            rows.Add(new ReportRow(
                $"(1) overhead/step, {o.Steps}-step chain, {o.Runs} run{(o.Runs == 1 ? "" : "s")}", "ms",
                o.PerStepMs.P50, o.Runs > 1 ? o.PerStepMs.P90 : null, o.Runs > 1 ? o.PerStepMs.P99 : null,
                target, o.Steps >= 10 ? o.PerStepMs.P50 <= 3 : null, "Restate 1.1 ms; Hangfire hop 10-18 ms",
                F($"after dispatch (first call -> last reply) p50 {o.PerStepAfterDispatchMs.P50:0.00} ms; per hop p50/p90/p99 {o.HopMs.P50:0.00}/{o.HopMs.P90:0.00}/{o.HopMs.P99:0.00} ms over {o.HopMs.Count} hops; app {o.AppHandlingPerCallMs:0.000} ms/call{(o.HopP50ByTenth.Count > 0 ? F($"; hop p50 first/last tenth {o.HopP50ByTenth[0]:0.00}/{o.HopP50ByTenth[^1]:0.00} ms") : "")}")));
        }

        if (ratio is { } r)
        {
            // As the brief defines it, the 10-step figure carries a tenth of the dispatch and the 1,000-step one almost
            // none, which hides growth; without the dispatch the ratio shows the replay cost alone.
            rows.Add(new ReportRow("(1) per-step(1000) / per-step(10)", "x", r, null, null, "<= 1.5", r <= 1.5, "", "medians, run wall time from the event send"));
        }

        if (ratioAfterDispatch is { } ra)
        {
            rows.Add(new ReportRow("(1) the same, excluding dispatch", "x", ra, null, null, "<= 1.5", ra <= 1.5, "", "medians, from the first call; > 1 means replay cost grows with run length"));
        }

        rows.Add(new ReportRow(
            $"(2) steps/s, {throughput.InFlight} runs in flight x {throughput.StepsPerRun} steps", "steps/s",
            throughput.StepsPerSecondBySecond.P50, null, null, ">= 3,000/s", throughput.StepsPerSecond >= 3000, "Restate 2,590/s",
            F($"whole window {throughput.StepsPerSecond:0}/s over {throughput.Seconds:0.#} s (p50 of per-second rates shown; min {throughput.StepsPerSecondBySecond.Min:0}); run p50/p99 {throughput.RunLatencyMs.P50:0}/{throughput.RunLatencyMs.P99:0} ms")));
        rows.Add(new ReportRow(
            $"(3) event -> first step, {latency.Events} events one at a time", "ms",
            latency.FirstCallMs.P50, latency.FirstCallMs.P90, latency.FirstCallMs.P99, "<= 5 ms", latency.FirstCallMs.P50 <= 5, "Restate 1.9 ms",
            F($"event ack (send -> 200) p50/p99 {latency.AckMs.P50:0.00}/{latency.AckMs.P99:0.00} ms") +
            (breakdown is null ? "" : "; by the db clock, p50: " + string.Join(", ", breakdown.Select(b => F($"{b.Key} {b.Value.P50:0.0}"))) + " ms")));
        rows.Add(new ReportRow(
            $"(4) ingest, batches of {batches.BatchSize}, {batches.Senders} senders", "events/s",
            batches.EventsPerSecondBySecond.P50, null, null, ">= 10,000/s", batches.EventsPerSecond >= 10000, "",
            F($"whole window {batches.EventsPerSecond:0}/s; request p50/p99 {batches.RequestMs.P50:0.0}/{batches.RequestMs.P99:0.0} ms; failed {batches.FailedRequests}")));
        rows.Add(new ReportRow(
            $"(4) ingest, single events, {single.Senders} senders", "events/s",
            single.EventsPerSecondBySecond.P50, null, null, "-", null, "",
            F($"whole window {single.EventsPerSecond:0}/s; request p50/p99 {single.RequestMs.P50:0.00}/{single.RequestMs.P99:0.00} ms; failed {single.FailedRequests}")));
        return rows;
    }

    public static string Table(IReadOnlyList<ReportRow> rows)
    {
        var header = new[] { "figure", "p50", "p90", "p99", "target", "", "reference" };
        var lines = rows.Select(r => new[]
        {
            r.Figure,
            Num(r.P50, r.Unit),
            r.P90 is { } p90 ? Num(p90, r.Unit) : "",
            r.P99 is { } p99 ? Num(p99, r.Unit) : "",
            r.Target,
            r.Met switch { true => "ok", false => "MISS", null => "" },
            r.Reference,
        }).ToList();
        var widths = Enumerable.Range(0, header.Length).Select(i => lines.Select(l => l[i].Length).Append(header[i].Length).Max()).ToArray();
        var sb = new StringBuilder();
        void Line(string[] cells) => sb.AppendLine(string.Join("  ", cells.Select((c, i) => i is 1 or 2 or 3 ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd());
        Line(header);
        Line(widths.Select(w => new string('-', w)).ToArray());
        for (var i = 0; i < rows.Count; i++)
        {
            Line(lines[i]);
            if (rows[i].Note.Length > 0)
            {
                sb.Append("    ").AppendLine(rows[i].Note);
            }
        }

        return sb.ToString();
    }

    private static string Num(double value, string unit) => unit switch
    {
        "ms" => F($"{value:0.00} ms"),
        "x" => F($"{value:0.00}x"),
        _ => F($"{value:#,0}/s"),
    };

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
