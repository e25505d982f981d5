using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Platform.Benchmarks;

/// <summary>One call the app received: when it arrived, when its reply was sent, how many steps were memoized.</summary>
public readonly record struct CallRecord(long ArrivedAt, long AnsweredAt, int Memoized)
{
    public long HandlingTicks => AnsweredAt - ArrivedAt;
}

/// <summary>
/// What the driver waits on for one run, found by the <c>tag</c> it put in <c>event.data</c>: the run id, every call
/// the app received for it, and two signals (first call arrived; final call answered).
/// </summary>
public sealed class RunTrace(string tag)
{
    private readonly List<CallRecord> _calls = [];

    public string Tag { get; } = tag;

    public string? RunId { get; private set; }

    /// <summary>Calls that arrived with a memoized count already seen (a retry or a duplicate drive).</summary>
    public int Repeats { get; private set; }

    /// <summary>Completes with the arrival timestamp of the first call.</summary>
    public TaskCompletionSource<long> FirstCall { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes with the timestamp at which the final (200) reply was sent.</summary>
    public TaskCompletionSource<long> Completed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<CallRecord> Calls
    {
        get
        {
            lock (_calls)
            {
                return [.. _calls];
            }
        }
    }

    internal void Record(string runId, CallRecord call, bool final)
    {
        lock (_calls)
        {
            RunId ??= runId;
            if (_calls.Any(c => c.Memoized == call.Memoized))
            {
                Repeats++;
            }

            _calls.Add(call);
        }

        FirstCall.TrySetResult(call.ArrivedAt);
        if (final)
        {
            Completed.TrySetResult(call.AnsweredAt);
        }
    }
}

/// <summary>
/// The benchmark's app: an in-process Kestrel server that speaks the protocol (protocol.md §7, §9, §10) in classic
/// call-per-step mode with one function, <c>noop-chain</c>. Its step count comes from <c>event.data.steps</c>; on
/// each call, with k memoized steps, it answers 206 with one <c>StepRun</c> for step <c>"s"+k</c> while
/// k &lt; steps, else 200 <c>{"steps":k}</c>. No work happens in a step, so what the run costs beyond the time
/// recorded here is the platform's.
/// </summary>
public sealed class NoopApp : IAsyncDisposable
{
    public const string AppName = "bench";
    public const string FunctionSlug = AppName + "-noop-chain";
    public const string EventName = "bench/noop-chain";
    private const int CachedReplies = 4096;

    private static readonly byte[][] s_stepReplies = new byte[CachedReplies][];

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, RunTrace> _byTag = new(StringComparer.Ordinal);
    private long _calls;
    private long _stepRuns;
    private long _untracked;
    private long _errors;

    private NoopApp(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    /// <summary>The app's endpoint, <c>http://127.0.0.1:&lt;port&gt;/api/inngest</c>.</summary>
    public string Url { get; }

    /// <summary>Calls received so far.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>206 StepRun replies sent so far: the steps the platform had the app run.</summary>
    public long StepRuns => Interlocked.Read(ref _stepRuns);

    /// <summary>Calls for a tag nobody waits for (warm-up, or a run arriving after its driver gave up).</summary>
    public long Untracked => Interlocked.Read(ref _untracked);

    /// <summary>Requests the app could not understand (answered 400).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    public static async Task<NoopApp> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        NoopApp? self = null;
        app.MapPost("/api/inngest", context => self!.HandleAsync(context));
        app.MapGet("/api/inngest", context => context.Response.WriteAsJsonAsync(
            new { function_count = 1, mode = "dev", has_event_key = false, has_signing_key = false, schema_version = "2024-05-24" }, cancellationToken));
        await app.StartAsync(cancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        self = new NoopApp(app, $"{address.TrimEnd('/')}/api/inngest");
        return self;
    }

    /// <summary>Starts tracking the run whose event carries <paramref name="tag"/>.</summary>
    public RunTrace Expect(string tag)
    {
        var trace = new RunTrace(tag);
        _byTag[tag] = trace;
        return trace;
    }

    public void Forget(RunTrace trace) => _byTag.TryRemove(trace.Tag, out _);

    /// <summary>Registers the app with the platform (protocol.md §6.3, §6.4).</summary>
    public async Task RegisterAsync(HttpClient platform, CancellationToken cancellationToken)
    {
        var payload = new Dictionary<string, object?>
        {
            ["url"] = Url,
            ["deployType"] = "ping",
            ["appName"] = AppName,
            ["framework"] = "aspnetcore",
            ["sdk"] = "dotnet:bench",
            ["v"] = "0.1",
            ["capabilities"] = new Dictionary<string, string>(),
            ["functions"] = new object[]
            {
                new Dictionary<string, object?>
                {
                    ["id"] = FunctionSlug,
                    ["name"] = "noop-chain",
                    ["triggers"] = new object[] { new Dictionary<string, string> { ["event"] = EventName } },
                    ["steps"] = new Dictionary<string, object?>
                    {
                        ["step"] = new Dictionary<string, object?>
                        {
                            ["id"] = "step",
                            ["name"] = "step",
                            ["runtime"] = new Dictionary<string, string> { ["type"] = "http", ["url"] = $"{Url}?fnId={FunctionSlug}&stepId=step" },
                        },
                    },
                },
            },
        };
        using var response = await platform.PostAsJsonAsync("/fn/register", payload, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Registering the bench app failed: {(int)response.StatusCode} {body}");
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var arrived = Clock.Now;
        Interlocked.Increment(ref _calls);
        string? runId;
        string? tag;
        int steps;
        int memoized;
        try
        {
            using var doc = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            var root = doc.RootElement;
            runId = root.GetProperty("ctx").GetProperty("run_id").GetString();
            var data = root.GetProperty("event").GetProperty("data");
            steps = data.GetProperty("steps").GetInt32();
            tag = data.TryGetProperty("tag", out var t) ? t.GetString() : null;
            memoized = 0;
            if (root.TryGetProperty("steps", out var memo) && memo.ValueKind == JsonValueKind.Object)
            {
                foreach (var _ in memo.EnumerateObject())
                {
                    memoized++;
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            Interlocked.Increment(ref _errors);
            context.Response.StatusCode = 400;
            context.Response.Headers["X-Inngest-Sdk"] = "bench";
            context.Response.Headers["X-Inngest-No-Retry"] = "true";
            await context.Response.WriteAsync("{\"name\":\"BenchError\",\"message\":\"unreadable call request\"}", context.RequestAborted);
            return;
        }

        var final = memoized >= steps;
        var reply = final ? Encoding.UTF8.GetBytes($"{{\"steps\":{memoized.ToString(CultureInfo.InvariantCulture)}}}") : StepReply(memoized);
        context.Response.StatusCode = final ? 200 : 206;
        context.Response.Headers["X-Inngest-Sdk"] = "bench";
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = reply.Length;
        await context.Response.Body.WriteAsync(reply, context.RequestAborted);
        await context.Response.CompleteAsync();
        var answered = Clock.Now;
        if (!final)
        {
            Interlocked.Increment(ref _stepRuns);
        }

        if (tag is not null && runId is not null && _byTag.TryGetValue(tag, out var trace))
        {
            trace.Record(runId, new CallRecord(arrived, answered, memoized), final);
        }
        else
        {
            Interlocked.Increment(ref _untracked);
        }
    }

    /// <summary><c>[{"id":sha1("s"+k),"op":"StepRun","name":"s"+k,"data":k}]</c>, built once per k.</summary>
    private static byte[] StepReply(int k)
    {
        if (k < CachedReplies && Volatile.Read(ref s_stepReplies[k]) is { } cached)
        {
            return cached;
        }

        var name = "s" + k.ToString(CultureInfo.InvariantCulture);
        var id = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(name)));
        var reply = Encoding.UTF8.GetBytes($"[{{\"id\":\"{id}\",\"op\":\"StepRun\",\"name\":\"{name}\",\"data\":{k.ToString(CultureInfo.InvariantCulture)}}}]");
        if (k < CachedReplies)
        {
            Volatile.Write(ref s_stepReplies[k], reply);
        }

        return reply;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
