using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Platform.Executor.Events;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Integration;

public sealed class EventIngestFixture() : PlatformFixture("ingest")
{
    public const string App = "ingest";
    public const string Exact = App + "-exact";
    public const string Prefix = App + "-prefix";
    public const string Amount = App + "-amount";

    protected override Task OnStartedAsync(PlatformApp platform) =>
        Api.RegisterAsync(platform, App, Api.UnreachableAppUrl(),
            new FunctionSpec("exact", """{"event":"test/ingest"}"""),
            new FunctionSpec("prefix", """{"event":"test/prefix/*"}"""),
            new FunctionSpec("amount", """{"event":"test/amount","expression":"event.data.amount > 100"}"""));
}

/// <summary>
/// Event ingest through the real HTTP endpoint against PostgreSQL (reliability.md B1 and design guard §2.2): an
/// event id is acknowledged every time but starts one run per function within the 24-hour window, whatever the
/// interleaving of sends; triggers (exact, prefix wildcard, CEL expression) pick the right functions.
/// </summary>
public sealed class EventIngestTests(EventIngestFixture fixture, ITestOutputHelper output) : IClassFixture<EventIngestFixture>
{
    private readonly PlatformApp _platform = fixture.Platform;

    [Fact]
    public async Task Send_SameIdTenTimesInSequence_OneEventOneRun()
    {
        var id = $"seq-{Guid.NewGuid():N}";
        var replies = new List<Reply>();
        for (var i = 0; i < 10; i++)
        {
            replies.Add(await Api.SendAsync(_platform, $$"""{"name":"test/ingest","id":"{{id}}","data":{"send":{{i}} } }"""));
        }

        var runs = await Api.RunsForEventIdAsync(_platform, id);
        var events = await _platform.ScalarAsync<long>("SELECT count(*) FROM platform.events WHERE event_id = @id", ("id", id));
        output.WriteLine($"B1a: sends=10 statuses=[{string.Join(",", replies.Select(r => r.Code))}] distinct_ids={replies.Select(r => Api.Ids(r)[0]).Distinct().Count()} events={events} runs={runs}");

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        Assert.All(replies, r => Assert.Equal(200, r.Json.GetProperty("status").GetInt32()));
        Assert.Single(replies.Select(r => Api.Ids(r).Single()).Distinct());
        Assert.Equal(1, events);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task Send_FiftyConcurrentSendsOfOneId_ExactlyOneRun()
    {
        var id = $"conc-{Guid.NewGuid():N}";
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sends = Enumerable.Range(0, 50).Select(async i =>
        {
            await start.Task;
            return await Api.SendAsync(_platform, $$"""{"name":"test/ingest","id":"{{id}}","data":{"client":{{i}} } }""");
        }).ToList();
        start.SetResult();
        var replies = await Task.WhenAll(sends);

        var runs = await Api.RunsForEventIdAsync(_platform, id);
        var events = await _platform.ScalarAsync<long>("SELECT count(*) FROM platform.events WHERE event_id = @id", ("id", id));
        var statuses = replies.GroupBy(r => r.Code).OrderBy(g => g.Key).Select(g => $"{g.Key}x{g.Count()}");
        var okIds = replies.Where(r => r.Code == 200).Select(r => Api.Ids(r).Single()).Distinct().ToList();
        output.WriteLine($"B1b: concurrent_sends=50 statuses=[{string.Join(",", statuses)}] 5xx={replies.Count(r => r.Code >= 500)} distinct_ids={okIds.Count} events={events} runs={runs}");

        Assert.All(replies, r => Assert.True(r.Code is >= 200 and < 300, $"a concurrent send failed: {r}"));
        Assert.Single(okIds);
        Assert.Equal(1, events);
        Assert.Equal(1, runs);
    }

    [Fact]
    public async Task Send_SameIdAfterDedupeWindow_StartsSecondRun()
    {
        var id = $"window-{Guid.NewGuid():N}";
        var body = $$"""{"name":"test/ingest","id":"{{id}}"}""";
        var first = await Api.SendAsync(_platform, body);
        Assert.Equal(HttpStatusCode.OK, first.Status);

        // 23 h 59 m after the first send: still inside the window.
        await Api.ExecuteAsync(_platform, "UPDATE platform.event_dedupe SET expires_at = now() + interval '1 minute' WHERE event_id = @id", ("id", id));
        var inside = await Api.SendAsync(_platform, body);
        var runsInside = await Api.RunsForEventIdAsync(_platform, id);

        // 24 h 01 m after the first send: the window has passed, the id is new again.
        await Api.ExecuteAsync(_platform, "UPDATE platform.event_dedupe SET expires_at = now() - interval '1 minute' WHERE event_id = @id", ("id", id));
        var after = await Api.SendAsync(_platform, body);
        var runsAfter = await Api.RunsForEventIdAsync(_platform, id);
        var repeat = await Api.SendAsync(_platform, body);
        var runsRepeat = await Api.RunsForEventIdAsync(_platform, id);
        output.WriteLine($"B1c: runs after 23h59m resend={runsInside}, after 24h01m resend={runsAfter}, after another resend={runsRepeat}");

        Assert.Equal(HttpStatusCode.OK, inside.Status);
        Assert.Equal(Api.Ids(first), Api.Ids(inside));
        Assert.Equal(1, runsInside);
        Assert.Equal(HttpStatusCode.OK, after.Status);
        Assert.NotEqual(Api.Ids(first), Api.Ids(after));
        Assert.Equal(2, runsAfter);
        Assert.Equal(Api.Ids(after), Api.Ids(repeat));
        Assert.Equal(2, runsRepeat);
    }

    [Fact]
    public async Task Send_ArrayWithTwoEventsSharingAnId_OneRun()
    {
        var id = $"pair-{Guid.NewGuid():N}";
        var reply = await Api.SendAsync(_platform,
            $$"""[{"name":"test/ingest","id":"{{id}}","data":{"n":1} },{"name":"test/ingest","id":"{{id}}","data":{"n":2} }]""");

        var runs = await Api.RunsForEventIdAsync(_platform, id);
        var events = await _platform.ScalarAsync<long>("SELECT count(*) FROM platform.events WHERE event_id = @id", ("id", id));
        output.WriteLine($"B1d: one send, two events with one id: status={reply.Code} ids=[{string.Join(",", Api.Ids(reply))}] events={events} runs={runs}");

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        var ids = Api.Ids(reply);
        Assert.Equal(2, ids.Length);
        Assert.Equal(ids[0], ids[1]);
        Assert.Equal(1, events);
        Assert.Equal(1, runs);
        // The first copy is the one stored.
        var stored = await _platform.ScalarAsync<string>("SELECT data::text FROM platform.events WHERE event_id = @id", ("id", id));
        Assert.Equal(1, JsonDocument.Parse(stored!).RootElement.GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task Send_SameSeedTwiceWithoutIds_SameIdsOneRunPerEvent()
    {
        var seed = NewSeed();
        var body = """[{"name":"test/ingest","data":{"n":1}},{"name":"test/ingest","data":{"n":2}}]""";
        var first = await Api.SendAsync(_platform, body, seed);
        var second = await Api.SendAsync(_platform, body, seed);

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.OK, second.Status);
        var ids = Api.Ids(first);
        var runs = new List<long>();
        foreach (var id in ids)
        {
            runs.Add(await Api.RunsForInternalIdAsync(_platform, id));
        }

        var events = await _platform.ScalarAsync<long>("SELECT count(*) FROM platform.events WHERE id = ANY(@ids)", ("ids", ids));
        output.WriteLine($"seed={seed}: first=[{string.Join(",", ids)}] second=[{string.Join(",", Api.Ids(second))}] events={events} runs per event=[{string.Join(",", runs)}]");

        Assert.Equal(ids, Api.Ids(second));
        Assert.Equal(2, ids.Distinct().Count());
        // The ids are the ones Inngest derives from the seed (protocol.md §16), so an SDK retry matches.
        Assert.True(Ulid.TryFromSeed(seed, 1, out var expected1));
        Assert.True(Ulid.TryFromSeed(seed, 2, out var expected2));
        Assert.Equal([expected1, expected2], ids);
        Assert.Equal(2, events);
        Assert.All(runs, r => Assert.Equal(1, r));
    }

    [Fact]
    public async Task Send_SeedReusedForDifferentEventIds_BothAcceptedNoServerError()
    {
        // A client that reuses one seed for two different sends (a bug, or a hostile client) must not make the
        // seeded internal id collide into a 500: the second event is new, so it is stored under a fresh id.
        var seed = NewSeed();
        var a = $"seed-a-{Guid.NewGuid():N}";
        var b = $"seed-b-{Guid.NewGuid():N}";
        var first = await Api.SendAsync(_platform, $$"""{"name":"test/ingest","id":"{{a}}"}""", seed);
        var second = await Api.SendAsync(_platform, $$"""{"name":"test/ingest","id":"{{b}}"}""", seed);
        var retry = await Api.SendAsync(_platform, $$"""{"name":"test/ingest","id":"{{b}}"}""", seed);
        output.WriteLine($"seed={seed}: first={first} second={second} retry of second={retry}");

        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Equal(HttpStatusCode.OK, second.Status);
        Assert.NotEqual(Api.Ids(first), Api.Ids(second));
        Assert.Equal(Api.Ids(second), Api.Ids(retry));
        Assert.Equal(1, await Api.RunsForEventIdAsync(_platform, a));
        Assert.Equal(1, await Api.RunsForEventIdAsync(_platform, b));
    }

    [Fact]
    public async Task Send_PrefixAndExpressionTriggers_MatchExactlyTheRightEvents()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        // (event name, data, expected runs of ingest-prefix, expected runs of ingest-amount)
        var cases = new (string Name, string Data, int Prefix, int Amount)[]
        {
            ($"test/prefix/a-{tag}", "{}", 1, 0),
            ($"test/prefix/b/c-{tag}", "{}", 1, 0),
            ($"test/prefixx-{tag}", "{}", 0, 0),
            ($"test/other/prefix/a-{tag}", "{}", 0, 0),
            ("test/amount", """{"amount":150}""", 0, 1),
            ("test/amount", """{"amount":100.5}""", 0, 1),
            ("test/amount", """{"amount":100}""", 0, 0),
            ("test/amount", """{"amount":50}""", 0, 0),
            ("test/amount", """{"amount":"150"}""", 0, 0),
            ("test/amount", """{"other":150}""", 0, 0),
            ("test/amount", "{}", 0, 0),
        };

        var failures = new List<string>();
        foreach (var (name, data, prefix, amount) in cases)
        {
            var id = $"trig-{Guid.NewGuid():N}";
            var reply = await Api.SendAsync(_platform, $$"""{"name":"{{name}}","id":"{{id}}","data":{{data}}}""");
            Assert.Equal(HttpStatusCode.OK, reply.Status);
            var gotPrefix = await RunsOfFunctionForIdAsync(EventIngestFixture.Prefix, id);
            var gotAmount = await RunsOfFunctionForIdAsync(EventIngestFixture.Amount, id);
            var gotExact = await RunsOfFunctionForIdAsync(EventIngestFixture.Exact, id);
            output.WriteLine($"{name} {data}: prefix-runs={gotPrefix} amount-runs={gotAmount} exact-runs={gotExact}");
            if (gotPrefix != prefix || gotAmount != amount || gotExact != 0)
            {
                failures.Add($"{name} {data}: expected prefix={prefix} amount={amount} exact=0, got {gotPrefix}/{gotAmount}/{gotExact}");
            }
        }

        Assert.Empty(failures);
    }

    [Theory]
    [InlineData("""{"name":"inngest/function.failed","data":{}}""")]
    [InlineData("""{"name":"Inngest/Whatever"}""")]
    [InlineData("""[{"name":"test/ingest","id":"reserved-mix-ok"},{"name":"inngest/function.finished"}]""")]
    public async Task Send_ReservedInngestName_RejectedNothingStored(string body)
    {
        var before = await Api.CountRowsAsync(_platform);
        var reply = await Api.SendAsync(_platform, body);
        var after = await Api.CountRowsAsync(_platform);
        output.WriteLine($"{body} -> {reply}");

        Assert.Equal(HttpStatusCode.BadRequest, reply.Status);
        Assert.Contains("reserved", reply.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(400, reply.Json.GetProperty("status").GetInt32());
        Assert.Equal(before, after);
    }

    private async Task<long> RunsOfFunctionForIdAsync(string slug, string eventId) =>
        await _platform.ScalarAsync<long>("""
            SELECT count(*) FROM platform.runs r
              JOIN platform.functions f ON f.id = r.function_id
              JOIN platform.events e ON e.id = r.event_id
             WHERE f.slug = @slug AND e.event_id = @id
            """, ("slug", slug), ("id", eventId));

    /// <summary>An SDK-style id seed: <c>&lt;unix ms&gt;,&lt;base64 of 10 random bytes&gt;</c>.</summary>
    private static string NewSeed() =>
        $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()},{Convert.ToBase64String(RandomNumberGenerator.GetBytes(10))}";
}
