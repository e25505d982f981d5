using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace Platform.Benchmarks;

/// <summary>Figure (1) for one chain length: what the platform adds per step, with the app's time taken out.</summary>
public sealed record OverheadResult(
    int Steps,
    int Runs,
    Stats PerStepMs,
    Stats PerStepAfterDispatchMs,
    Stats HopMs,
    Stats FirstCallMs,
    Stats RunWallMs,
    double AppHandlingPerCallMs,
    int RepeatedCalls,
    IReadOnlyList<double> HopP50ByTenth);

/// <summary>Figure (2): steps per second with a fixed number of runs in flight.</summary>
public sealed record ThroughputResult(
    int InFlight,
    int StepsPerRun,
    double Seconds,
    double StepsPerSecond,
    double CallsPerSecond,
    Stats StepsPerSecondBySecond,
    int RunsCompleted,
    Stats RunLatencyMs,
    CpuUse Cpu);

/// <summary>Figure (3): event sent → first call at the app, one event at a time.</summary>
public sealed record LatencyResult(int Events, Stats FirstCallMs, Stats AckMs, CpuUse Cpu);

/// <summary>Figure (4): events acknowledged per second.</summary>
public sealed record IngestResult(
    int BatchSize,
    int Senders,
    double Seconds,
    double EventsPerSecond,
    Stats EventsPerSecondBySecond,
    Stats RequestMs,
    long FailedRequests,
    CpuUse Cpu);

/// <summary>The measurements. Every timestamp is a <see cref="Clock"/> reading of this process (driver and app).</summary>
public sealed class Scenarios(HttpClient platform, NoopApp app, CpuSampler cpu, TextWriter progress)
{
    private const string EventPath = "/e/bench-key";
    private static readonly MediaTypeHeaderValue s_json = new("application/json");

    /// <summary>Sends one noop-chain event and waits for the run's final call.</summary>
    public async Task<(long Sent, long Acked, RunTrace Trace)> RunOnceAsync(int steps, CancellationToken cancellationToken)
    {
        var tag = Guid.NewGuid().ToString("N");
        var trace = app.Expect(tag);
        try
        {
            var body = string.Create(CultureInfo.InvariantCulture, $"{{\"name\":\"{NoopApp.EventName}\",\"data\":{{\"steps\":{steps},\"tag\":\"{tag}\"}}}}");
            var sent = Clock.Now;
            await SendAsync(Encoding.UTF8.GetBytes(body), cancellationToken);
            var acked = Clock.Now;
            // Generous: a 1,000-step run on a loaded machine can take a while, and a stuck run must fail the benchmark, not hang it.
            var timeout = TimeSpan.FromSeconds(60) + TimeSpan.FromMilliseconds(200.0 * steps);
            try
            {
                await trace.Completed.Task.WaitAsync(timeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException(
                    $"The run for tag {tag} ({steps} steps, run id {trace.RunId ?? "none yet"}) did not finish within {timeout.TotalSeconds:0} s; " +
                    $"the app saw {trace.Calls.Count} calls");
            }

            return (sent, acked, trace);
        }
        finally
        {
            app.Forget(trace);
        }
    }

    public async Task WarmUpAsync(int runs, CancellationToken cancellationToken)
    {
        // Sequential runs warm the one-at-a-time path, a concurrent burst warms the pools (connections, workers).
        for (var i = 0; i < runs; i++)
        {
            await RunOnceAsync(10, cancellationToken);
        }

        await Task.WhenAll(Enumerable.Range(0, runs).Select(_ => RunOnceAsync(10, cancellationToken)));
    }

    /// <summary>Figure (1): chains run one at a time; run end = the app's reply to the final call.</summary>
    public async Task<OverheadResult> OverheadAsync(ChainPlan plan, CancellationToken cancellationToken)
    {
        var perStep = new List<double>();
        var afterDispatch = new List<double>();
        var hops = new List<double>();
        var firstCalls = new List<double>();
        var walls = new List<double>();
        var handling = new List<double>();
        var repeats = 0;
        // Hops grouped by their position in the run (first tenth ... last tenth): growth along one run, under the
        // same machine noise, is the replay cost that a 1,000-step vs 10-step comparison across phases blurs.
        var byTenth = Enumerable.Range(0, 10).Select(_ => new List<double>()).ToArray();
        for (var r = 0; r < plan.Runs; r++)
        {
            var (sent, _, trace) = await RunOnceAsync(plan.Steps, cancellationToken);
            var calls = trace.Calls.OrderBy(c => c.ArrivedAt).ToList();
            var wall = Clock.MsBetween(sent, calls[^1].AnsweredAt);
            var appMs = calls.Sum(c => Clock.Ms(c.HandlingTicks));
            perStep.Add((wall - appMs) / plan.Steps);
            // The same without the run's dispatch (event -> first call, figure 3): what each further step costs.
            afterDispatch.Add((Clock.MsBetween(calls[0].ArrivedAt, calls[^1].AnsweredAt) - appMs) / plan.Steps);
            walls.Add(wall);
            firstCalls.Add(Clock.MsBetween(sent, calls[0].ArrivedAt));
            handling.AddRange(calls.Select(c => Clock.Ms(c.HandlingTicks)));
            for (var i = 1; i < calls.Count; i++)
            {
                var hop = Clock.MsBetween(calls[i - 1].AnsweredAt, calls[i].ArrivedAt);
                hops.Add(hop);
                byTenth[(i - 1) * 10 / (calls.Count - 1)].Add(hop);
            }

            repeats += trace.Repeats;
        }

        var result = new OverheadResult(plan.Steps, plan.Runs, Stats.Of(perStep), Stats.Of(afterDispatch), Stats.Of(hops), Stats.Of(firstCalls), Stats.Of(walls),
            Math.Round(handling.Average(), 4), repeats,
            plan.Steps >= 100 ? byTenth.Select(t => Stats.Of(t).P50).ToList() : []);
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  chain of {plan.Steps,4} steps x {plan.Runs,2}: overhead/step p50 {result.PerStepMs.P50:0.00} ms ({result.PerStepAfterDispatchMs.P50:0.00} ms after dispatch), hop p50 {result.HopMs.P50:0.00} ms, run p50 {result.RunWallMs.P50:0.0} ms"));
        if (result.HopP50ByTenth.Count > 0)
        {
            progress.WriteLine($"    hop p50 by tenth of the run: {string.Join(" ", result.HopP50ByTenth.Select(h => h.ToString("0.00", CultureInfo.InvariantCulture)))} ms");
        }

        return result;
    }

    /// <summary>Figure (3): one event at a time, each run finished before the next event.</summary>
    public async Task<LatencyResult> FirstStepLatencyAsync(int events, CancellationToken cancellationToken)
    {
        var first = new List<double>();
        var acks = new List<double>();
        var before = cpu.Take();
        for (var i = 0; i < events; i++)
        {
            var (sent, acked, trace) = await RunOnceAsync(1, cancellationToken);
            first.Add(Clock.MsBetween(sent, trace.Calls.Min(c => c.ArrivedAt)));
            acks.Add(Clock.MsBetween(sent, acked));
        }

        var result = new LatencyResult(events, Stats.Of(first), Stats.Of(acks), CpuSampler.Between(before, cpu.Take()));
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {events} events: first step p50 {result.FirstCallMs.P50:0.00} ms p99 {result.FirstCallMs.P99:0.00} ms, ack p50 {result.AckMs.P50:0.00} ms"));
        return result;
    }

    /// <summary>Figure (2): keep <paramref name="inFlight"/> runs going; count the steps the app ran in the window.</summary>
    public async Task<ThroughputResult> ThroughputAsync(int inFlight, int stepsPerRun, TimeSpan ramp, TimeSpan window, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var latencies = new ConcurrentBag<(long Sent, double Ms)>();
        var slots = Enumerable.Range(0, inFlight).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (sent, _, trace) = await RunOnceAsync(stepsPerRun, cancellationToken);
                latencies.Add((sent, Clock.MsBetween(sent, trace.Completed.Task.Result)));
            }
        }).ToList();

        await Task.Delay(ramp, cancellationToken);
        var (bySecond, start, end, steps, calls, cpuUse) = await SampleAsync(() => app.StepRuns, () => app.Calls, window, cancellationToken);
        await stop.CancelAsync();
        await Task.WhenAll(slots);

        var inWindow = latencies.Where(l => l.Sent >= start.At && l.Sent < end.At).Select(l => l.Ms).ToList();
        var seconds = Clock.MsBetween(start.At, end.At) / 1000.0;
        var result = new ThroughputResult(inFlight, stepsPerRun, Math.Round(seconds, 2), Math.Round(steps / seconds, 1), Math.Round(calls / seconds, 1),
            Stats.Of(bySecond), inWindow.Count, Stats.Of(inWindow), cpuUse);
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {inFlight} in flight x {stepsPerRun} steps: {result.StepsPerSecond:0} steps/s ({result.CallsPerSecond:0} calls/s), run p50 {result.RunLatencyMs.P50:0.0} ms"));
        return result;
    }

    /// <summary>Figure (4): <paramref name="senders"/> clients post batches (or single events) that start no run.</summary>
    public async Task<IngestResult> IngestAsync(int batchSize, int senders, TimeSpan window, CancellationToken cancellationToken)
    {
        var sb = new StringBuilder();
        if (batchSize > 1)
        {
            sb.Append('[');
        }

        for (var i = 0; i < batchSize; i++)
        {
            sb.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture, $"{{\"name\":\"bench/ingest\",\"data\":{{\"i\":{i},\"note\":\"no function listens\"}}}}");
        }

        if (batchSize > 1)
        {
            sb.Append(']');
        }

        var body = Encoding.UTF8.GetBytes(sb.ToString());
        long acknowledged = 0;
        long failed = 0;
        var requestMs = new ConcurrentBag<double>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var workers = Enumerable.Range(0, senders).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                var sent = Clock.Now;
                try
                {
                    await SendAsync(body, cancellationToken);
                    Interlocked.Add(ref acknowledged, batchSize);
                    requestMs.Add(Clock.MsBetween(sent, Clock.Now));
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                }
            }
        }).ToList();

        // One second to open connections and settle, then the window.
        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        var (bySecond, start, end, events, _, cpuUse) = await SampleAsync(() => Interlocked.Read(ref acknowledged), () => 0, window, cancellationToken);
        await stop.CancelAsync();
        await Task.WhenAll(workers);

        var seconds = Clock.MsBetween(start.At, end.At) / 1000.0;
        var result = new IngestResult(batchSize, senders, Math.Round(seconds, 2), Math.Round(events / seconds, 1), Stats.Of(bySecond), Stats.Of(requestMs),
            Interlocked.Read(ref failed), cpuUse);
        progress.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  batches of {batchSize}, {senders} senders: {result.EventsPerSecond:0} events/s, request p50 {result.RequestMs.P50:0.0} ms"));
        return result;
    }

    /// <summary>Counts over a window, with a per-second rate series (the repetitions of a rate figure) and CPU use.</summary>
    private async Task<(List<double> BySecond, CpuSampler.Snapshot Start, CpuSampler.Snapshot End, long Count, long Count2, CpuUse Cpu)> SampleAsync(
        Func<long> counter, Func<long> counter2, TimeSpan window, CancellationToken cancellationToken)
    {
        var bySecond = new List<double>();
        var start = cpu.Take();
        var (count0, second0) = (counter(), counter2());
        var (lastAt, lastCount) = (start.At, count0);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        for (var second = 0; second < Math.Max(1, (int)Math.Round(window.TotalSeconds)) && await timer.WaitForNextTickAsync(cancellationToken); second++)
        {
            var (now, count) = (Clock.Now, counter());
            bySecond.Add((count - lastCount) / (Clock.MsBetween(lastAt, now) / 1000.0));
            (lastAt, lastCount) = (now, count);
        }

        var end = cpu.Take();
        var (count1, second1) = (counter(), counter2());
        return (bySecond, start, end, count1 - count0, second1 - second0, CpuSampler.Between(start, end));
    }

    private async Task SendAsync(byte[] body, CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = s_json;
        using var response = await platform.PostAsync(EventPath, content, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new HttpRequestException($"POST {EventPath} answered {(int)response.StatusCode}: {text[..Math.Min(text.Length, 300)]}");
        }

        // Drain the body so the connection goes back to the pool.
        await response.Content.CopyToAsync(Stream.Null, cancellationToken);
    }
}
