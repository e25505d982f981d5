using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using CsCheck;
using Platform.Api.Endpoints;
using Platform.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Platform.Tests.Integration;

public sealed class BadInputFixture() : PlatformFixture("badinput")
{
    protected override Task OnStartedAsync(PlatformApp platform) =>
        Api.RegisterAsync(platform, "bad", Api.UnreachableAppUrl(), new FunctionSpec("any", """{"event":"bad/*"}"""));
}

/// <summary>
/// Hostile and broken input against every endpoint (reliability.md F1-F4, brief invariant 6): a clear 4xx whose
/// body names the problem, never a 5xx, and nothing stored. What is accepted is stored exactly as sent.
/// </summary>
public sealed class BadInputTests(BadInputFixture fixture, ITestOutputHelper output) : IClassFixture<BadInputFixture>
{
    private const string EventPath = "/e/test-key";
    private const string SyncPath = "/api/v1/apps/sync";
    private const string RegisterPath = "/fn/register";
    // Kestrel's own cap on request bodies (Program.cs), which endpoints binding JSON rely on.
    private const int KestrelMaxBody = EventEndpoints.MaxRequestBytes + 1024;
    private const int TwelveMegabytes = 12 * 1024 * 1024;

    private readonly PlatformApp _platform = fixture.Platform;

    /// <summary>A bad request: how to send it, the statuses allowed, and a word the error message must contain.</summary>
    /// <remarks>
    /// <see cref="Mentions"/> null: Kestrel rejects the request line itself (a NUL decoded in the path) before any
    /// application code runs, with a bare 400 that no middleware can give a body.
    /// </remarks>
    public sealed record BadRequest(HttpMethod Method, string Path, Func<HttpContent>? Body, int[] Statuses, string? Mentions);

    private static readonly Dictionary<string, BadRequest> s_cases = BuildCases();

    public static TheoryData<string> Cases => new(s_cases.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Endpoint_BadInput_ClearClientErrorAndNothingStored(string name)
    {
        var c = s_cases[name];
        var before = await Api.CountRowsAsync(_platform);
        var reply = await SendAsync(c);
        var after = await Api.CountRowsAsync(_platform);
        output.WriteLine($"{name}: {c.Method} {(c.Path.Length > 80 ? c.Path[..80] + "…" : c.Path)} -> {reply}");

        Assert.True(c.Statuses.Contains(reply.Code), $"expected {string.Join(" or ", c.Statuses)}, got {reply}");
        if (c.Mentions is not null)
        {
            Assert.False(string.IsNullOrWhiteSpace(reply.ErrorMessage), $"the error body names no problem: {reply}");
            Assert.Contains(c.Mentions, reply.ErrorMessage, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Equal(before, after);
    }

    [Fact]
    public async Task Endpoints_SqlInjectionLookingStrings_StoredVerbatimAndSchemaUnchanged()
    {
        string[] nasty = ["'; DROP TABLE platform.events;--", "' OR 1=1 --", "$$", "\\'", "%00", "\"; DELETE FROM platform.runs; --", "x' OR 'a'='a"];
        var schemaBefore = await SchemaHashAsync();
        var results = new List<string>();
        for (var i = 0; i < nasty.Length; i++)
        {
            var s = nasty[i];
            var id = $"{s}#{Guid.NewGuid():N}";
            var eventName = $"bad/{s}";
            var body = JsonSerializer.Serialize(new { name = eventName, id, data = new Dictionary<string, object> { ["q"] = s, [s] = i } });
            var sent = await Api.PostAsync(_platform, "/e/" + Uri.EscapeDataString(s), body, ("X-Inngest-Event-Id-Seed", s));
            Assert.True(sent.Status == HttpStatusCode.OK, $"{s}: {sent}");
            var internalId = Api.Ids(sent).Single();

            var read = await Api.GetAsync(_platform, $"/api/v1/events/{internalId}");
            Assert.Equal(HttpStatusCode.OK, read.Status);
            Assert.Equal(eventName, read.Json.GetProperty("name").GetString());
            Assert.Equal(id, read.Json.GetProperty("eventId").GetString());
            Assert.Equal(s, read.Json.GetProperty("data").GetProperty("q").GetString());
            Assert.Equal(i, read.Json.GetProperty("data").GetProperty(s).GetInt32());

            // As a query value it matches only itself.
            var byName = await Api.GetAsync(_platform, $"/api/v1/events?name={Uri.EscapeDataString(eventName)}");
            Assert.Equal([internalId], byName.Json.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
            var byBareName = await Api.GetAsync(_platform, $"/api/v1/events?name={Uri.EscapeDataString(s)}");
            Assert.Empty(byBareName.Json.GetProperty("items").EnumerateArray());
            var runsByFunction = await Api.GetAsync(_platform, $"/api/v1/runs?function={Uri.EscapeDataString(s)}&cursor={Uri.EscapeDataString(s)}");
            Assert.Equal(HttpStatusCode.OK, runsByFunction.Status);
            Assert.Empty(runsByFunction.Json.GetProperty("items").EnumerateArray());

            // App and function ids (no '/': it cannot appear in a single path segment).
            var appName = $"inj{i}{s.Replace('/', '_')}";
            await Api.RegisterAsync(_platform, appName, Api.UnreachableAppUrl(), new FunctionSpec($"fn{s.Replace('/', '_')}", """{"event":"bad/never"}"""));
            var app = await Api.GetAsync(_platform, $"/api/v1/apps/{Uri.EscapeDataString(appName)}");
            Assert.True(app.Status == HttpStatusCode.OK, $"{appName}: {app}");
            Assert.Equal(appName, app.Json.GetProperty("name").GetString());
            var slug = $"{appName}-fn{s.Replace('/', '_')}";
            var function = await Api.GetAsync(_platform, $"/api/v1/functions/{Uri.EscapeDataString(slug)}");
            Assert.True(function.Status == HttpStatusCode.OK, $"{slug}: {function}");
            Assert.Equal(slug, function.Json.GetProperty("slug").GetString());
            results.Add($"{s} -> event {sent.Code}, read back equal; app/function {app.Code}/{function.Code}");
        }

        var schemaAfter = await SchemaHashAsync();
        output.WriteLine(string.Join(Environment.NewLine, results));
        output.WriteLine($"schema hash before={schemaBefore} after={schemaAfter}");
        Assert.Equal(schemaBefore, schemaAfter);
    }

    [Fact]
    public async Task SendEvent_Unicode_RoundTripsUnchanged()
    {
        string[] texts =
        [
            "emoji 😀👍🏽🇫🇷", "שלום עולם", "مرحبا بالعالم", "e\u0301 combining", "\u00e9 precomposed", "Z\u0334\u0321a\u0337l\u0336g\u0335o\u0338",
            "non-characters \uFFFE \uFFFF \U0010FFFF", "\u202Eright-to-left override", "漢字かなカナ", "line\u2028separator\u2029",
            "\u00A0no-break space", "tab\tnew\nline", "zero\u200Bwidth",
        ];
        var mismatches = new List<string>();
        foreach (var text in texts)
        {
            var id = $"{text}#{Guid.NewGuid():N}";
            var body = JsonSerializer.Serialize(new { name = $"bad/unicode/{text}", id, data = new Dictionary<string, string> { ["s"] = text, [text] = text } });
            var sent = await Api.SendAsync(_platform, body);
            Assert.True(sent.Status == HttpStatusCode.OK, $"{text}: {sent}");
            var read = await Api.GetAsync(_platform, $"/api/v1/events/{Api.Ids(sent).Single()}");
            var data = read.Json.GetProperty("data");
            if (read.Json.GetProperty("name").GetString() != $"bad/unicode/{text}" || read.Json.GetProperty("eventId").GetString() != id
                || data.GetProperty("s").GetString() != text || data.GetProperty(text).GetString() != text)
            {
                mismatches.Add($"{text}: read back {read.Text}");
            }
        }

        // The two normalization forms stay distinct (nothing normalizes behind the sender's back).
        var forms = await Api.SendAsync(_platform, JsonSerializer.Serialize(new { name = "bad/unicode/forms", data = new { nfc = "\u00e9", nfd = "e\u0301" } }));
        var formsData = (await Api.GetAsync(_platform, $"/api/v1/events/{Api.Ids(forms).Single()}")).Json.GetProperty("data");
        output.WriteLine($"F4: {texts.Length} texts sent in names, ids, keys and values; mismatches={mismatches.Count}; NFC/NFD kept apart={formsData.GetProperty("nfc").GetString() != formsData.GetProperty("nfd").GetString()}");

        Assert.Empty(mismatches);
        Assert.Equal("\u00e9", formsData.GetProperty("nfc").GetString());
        Assert.Equal("e\u0301", formsData.GetProperty("nfd").GetString());
    }

    [Fact]
    public async Task ManagementQueries_OddButValidValues_AnsweredWithoutError()
    {
        var replies = new Dictionary<string, Reply>();
        foreach (var path in new[]
        {
            "/api/v1/runs?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z",
            "/api/v1/runs?status=queued,COMPLETED&limit=200",
            "/api/v1/events?name=%ED%A0%80",
            "/api/v1/events?cursor=%F0%9F%98%80&limit=1",
            "/api/v1/functions?archived=true&app=%E2%80%AE",
        })
        {
            replies[path] = await Api.GetAsync(_platform, path);
        }

        output.WriteLine(string.Join(Environment.NewLine, replies.Select(r => $"{r.Key} -> {r.Value}")));
        Assert.All(replies, r => Assert.True(r.Value.Status == HttpStatusCode.OK, $"{r.Key}: {r.Value}"));
    }

    [Fact]
    public async Task SendEvent_FuzzedBodies_NoServerErrorAndAcceptedEventsReadBackEqual()
    {
        const int Cases = 2_000;
        var seedText = Environment.GetEnvironmentVariable("PLATFORM_FUZZ_SEED");
        var pcg = string.IsNullOrEmpty(seedText) ? new PCG((uint)Random.Shared.Next(), (ulong)Random.Shared.NextInt64()) : PCG.Parse(seedText);
        output.WriteLine($"seed={pcg} (set PLATFORM_FUZZ_SEED to replay)");
        // Sender ids end in "#<random>"; the case number after the '#' keeps them unique across cases, so every
        // accepted event is a new one (a repeated id would rightly answer with the first event's id).
        var bodies = Enumerable.Range(0, Cases)
            .Select(i => JsonFuzz.Body.Generate(pcg, null!, out CsCheck.Size _)
                .SelectMany(b => b == (byte)'#' ? Encoding.ASCII.GetBytes($"#{i}.") : [b])
                .ToArray())
            .ToList();

        var statuses = new ConcurrentDictionary<int, int>();
        var failures = new ConcurrentBag<string>();
        long acceptedSends = 0, acceptedEvents = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, Cases), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            var body = bodies[i];
            Reply reply;
            using (var content = new ByteArrayContent(body))
            {
                content.Headers.ContentType = new("application/json");
                reply = await Api.PostAsync(_platform, EventPath, content);
            }

            statuses.AddOrUpdate(reply.Code, 1, (_, n) => n + 1);
            var excerpt = Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 200)));
            if (reply.Code >= 500 || (reply.Code != 200 && (reply.Code is not (400 or 413 or 415) || string.IsNullOrWhiteSpace(reply.ErrorMessage))))
            {
                failures.Add($"case {i}: {reply} for {excerpt}");
                return;
            }

            if (reply.Code != 200)
            {
                return;
            }

            Interlocked.Increment(ref acceptedSends);
            using var sent = JsonDocument.Parse(body);
            var events = sent.RootElement.ValueKind == JsonValueKind.Array ? sent.RootElement.EnumerateArray().ToList() : [sent.RootElement];
            var ids = Api.Ids(reply);
            if (ids.Length != events.Count)
            {
                failures.Add($"case {i}: {ids.Length} ids for {events.Count} events");
                return;
            }

            for (var k = 0; k < events.Count; k++)
            {
                Interlocked.Increment(ref acceptedEvents);
                var read = await Api.GetAsync(_platform, $"/api/v1/events/{ids[k]}");
                var expectedData = events[k].TryGetProperty("data", out var d) && d.ValueKind != JsonValueKind.Null ? JsonFuzz.Canonical(d) : "{}";
                if (read.Status != HttpStatusCode.OK)
                {
                    failures.Add($"case {i} event {k}: read back {read}");
                }
                else if (JsonFuzz.Canonical(read.Json.GetProperty("data")) != expectedData
                    || read.Json.GetProperty("name").GetString() != events[k].GetProperty("name").GetString())
                {
                    failures.Add($"case {i} event {k}: sent {excerpt}, read back {read.Text[..Math.Min(read.Text.Length, 300)]}");
                }
            }
        });

        var rejected = Cases - acceptedSends;
        output.WriteLine($"F1 fuzz: bodies={Cases} accepted_sends={acceptedSends} accepted_events={acceptedEvents} rejected={rejected} statuses=[{string.Join(",", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}x{s.Value}"))}] 5xx={statuses.Where(s => s.Key >= 500).Sum(s => s.Value)} failures={failures.Count}");
        foreach (var failure in failures.Take(10))
        {
            output.WriteLine(failure);
        }

        Assert.Empty(failures);
        // Both sides of the generator were exercised.
        Assert.True(acceptedSends > Cases / 10, $"only {acceptedSends} bodies accepted");
        Assert.True(rejected > Cases / 10, $"only {rejected} bodies rejected");
    }

    [Fact]
    public async Task SyncApp_UnreachableAppUrl_BadGatewayNamingTheUrl()
    {
        var url = Api.UnreachableAppUrl();
        var before = await Api.CountRowsAsync(_platform);
        var reply = await Api.PostAsync(_platform, SyncPath, JsonSerializer.Serialize(new { url }));
        output.WriteLine($"sync of {url}: {reply}");

        // Not the platform failing: the app it was asked to call did not answer. 502 says so, with the URL.
        Assert.Equal(HttpStatusCode.BadGateway, reply.Status);
        Assert.Contains(url, reply.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(before, await Api.CountRowsAsync(_platform));
    }

    private async Task<Reply> SendAsync(BadRequest c)
    {
        using var request = new HttpRequestMessage(c.Method, c.Path);
        if (c.Body is not null)
        {
            request.Content = c.Body();
            // A client sending megabytes asks first (as curl does), so it reads the 413 instead of a reset
            // connection: the platform refuses a declared oversized body without reading it. (A chunked body is
            // read up to the limit, so those cases stay just over it: a client still streaming after the 413 sees
            // the connection closed under it, which is Kestrel's way of not buffering what it refuses.)
            request.Headers.ExpectContinue = request.Content.Headers.ContentLength is null or > 1024 * 1024;
        }

        using var response = await _platform.Http.SendAsync(request);
        return new Reply(response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<string> SchemaHashAsync()
    {
        var columns = await Api.ListAsync(_platform, """
            SELECT table_schema || '.' || table_name || '.' || column_name || ':' || data_type
              FROM information_schema.columns WHERE table_schema IN ('platform', 'hangfire') ORDER BY 1
            """);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", columns))))[..16] + $" ({columns.Count} columns)";
    }

    private static Dictionary<string, BadRequest> BuildCases()
    {
        var cases = new Dictionary<string, BadRequest>();
        void Post(string name, string path, string json, string mentions, params int[] statuses) =>
            cases[name] = new(HttpMethod.Post, path, () => Json(json), statuses.Length == 0 ? [400] : statuses, mentions);
        void PostBody(string name, string path, Func<HttpContent> body, string mentions, params int[] statuses) =>
            cases[name] = new(HttpMethod.Post, path, body, statuses, mentions);
        void Get(string name, string path, string mentions, params int[] statuses) =>
            cases[name] = new(HttpMethod.Get, path, null, statuses.Length == 0 ? [400] : statuses, mentions);

        var deepArrays = new string('[', 10_000) + new string(']', 10_000);
        var deepObjects = string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000);
        var long257 = new string('n', 257);

        // POST /e/{eventKey}
        Post("event: not JSON", EventPath, "{", "not valid JSON");
        Post("event: empty body", EventPath, "", "not valid JSON");
        Post("event: trailing garbage", EventPath, """{"name":"bad/x"} x""", "not valid JSON");
        Post("event: NaN literal", EventPath, """{"name":"bad/x","data":{"n":NaN}}""", "not valid JSON");
        Post("event: comment", EventPath, """{"name":"bad/x" /* c */}""", "not valid JSON");
        Post("event: a JSON string", EventPath, "\"hello\"", "expected an event object");
        Post("event: a JSON number", EventPath, "42", "expected an event object");
        Post("event: empty array", EventPath, "[]", "empty");
        Post("event: array of numbers", EventPath, "[1,2]", "events[0]");
        Post("event: second event invalid", EventPath, """[{"name":"bad/ok"},{"name":5}]""", "events[1].name");
        Post("event: name missing", EventPath, """{"data":{}}""", "name");
        Post("event: name a number", EventPath, """{"name":5}""", "name");
        Post("event: name empty", EventPath, """{"name":""}""", "name");
        Post("event: name too long", EventPath, $$"""{"name":"{{long257}}"}""", "name");
        Post("event: name reserved", EventPath, """{"name":"inngest/function.failed"}""", "reserved");
        Post("event: data an array", EventPath, """{"name":"bad/x","data":[1,2]}""", "data");
        Post("event: data a string", EventPath, """{"name":"bad/x","data":"text"}""", "data");
        Post("event: id a number", EventPath, """{"name":"bad/x","id":5}""", "id");
        Post("event: id empty", EventPath, """{"name":"bad/x","id":""}""", "id");
        Post("event: id too long", EventPath, $$"""{"name":"bad/x","id":"{{long257}}"}""", "id");
        Post("event: ts a string", EventPath, """{"name":"bad/x","ts":"yesterday"}""", "ts");
        Post("event: ts negative", EventPath, """{"name":"bad/x","ts":-5}""", "ts");
        Post("event: ts a fraction", EventPath, """{"name":"bad/x","ts":1.5}""", "ts");
        Post("event: ts 1e400", EventPath, """{"name":"bad/x","ts":1e400}""", "number");
        Post("event: v a number", EventPath, """{"name":"bad/x","v":5}""", "v");
        Post("event: user an array", EventPath, """{"name":"bad/x","user":[]}""", "user");
        Post("event: NUL in name", EventPath, """{"name":"bad/\u0000x"}""", "NUL");
        Post("event: NUL in data value", EventPath, """{"name":"bad/x","data":{"k":"a\u0000b"}}""", "NUL");
        Post("event: NUL in data key", EventPath, """{"name":"bad/x","data":{"k\u0000":1}}""", "NUL");
        Post("event: NUL in id", EventPath, """{"name":"bad/x","id":"x\u0000"}""", "NUL");
        Post("event: lone high surrogate", EventPath, """{"name":"bad/x","data":{"k":"\ud800"}}""", "surrogate");
        Post("event: lone low surrogate", EventPath, """{"name":"bad/x","data":{"k":"\udc00x"}}""", "surrogate");
        Post("event: surrogates reversed", EventPath, """{"name":"bad/x","data":{"k":"\udc00\ud800"}}""", "surrogate");
        Post("event: lone surrogate in name", EventPath, """{"name":"bad/\ud800"}""", "surrogate");
        Post("event: 1e400 in data", EventPath, """{"name":"bad/x","data":{"n":1e400}}""", "number");
        Post("event: -1e400 in data", EventPath, """{"name":"bad/x","data":{"n":-1e400}}""", "number");
        Post("event: 1e1000000 in data", EventPath, """{"name":"bad/x","data":{"n":1e1000000}}""", "number");
        Post("event: 1e-400 in data", EventPath, """{"name":"bad/x","data":{"n":1e-400}}""", "number");
        Post("event: 0e-20000 in data", EventPath, """{"name":"bad/x","data":{"n":0e-20000}}""", "number");
        Post("event: 0e99999999999999999999 in data", EventPath, """{"name":"bad/x","data":{"n":0e99999999999999999999}}""", "number");
        Post("event: arrays nested 10,000 deep", EventPath, $$"""{"name":"bad/x","data":{"d":{{deepArrays}} } }""", "depth");
        Post("event: objects nested 10,000 deep", EventPath, $$"""{"name":"bad/x","data":{{deepObjects}}}""", "depth");
        Post("event: one event over 512 KB", EventPath, BigEvent(600 * 1024), "limit");
        Post("event: 5,001 events", EventPath, "[" + string.Join(",", Enumerable.Repeat("""{"name":"bad/x"}""", 5_001)) + "]", "Too many");
        PostBody("event: invalid UTF-8", EventPath, () => Bytes([.. "{\"name\":\"bad/"u8, 0xFF, 0xFE, .. "\"}"u8]), "not valid JSON", 400);
        PostBody("event: body 1 byte over the limit", EventPath, () => Json(BigEvent(EventEndpoints.MaxRequestBytes + 1)), "larger than", 413);
        PostBody("event: 12 MB body", EventPath, () => Json(BigEvent(TwelveMegabytes)), "larger than", 413);
        PostBody("event: chunked body 1 byte over the limit", EventPath, () => new ChunkedContent(EventEndpoints.MaxRequestBytes + 1, (byte)' '), "large", 413);

        // POST /fn/register
        var url = JsonSerializer.Serialize(Api.UnreachableAppUrl());
        string Fn(string body) => $$"""{"appName":"reg","url":{{url}},"functions":[{{body}}]}""";
        const string Step = """ "steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://127.0.0.1:9/x"}}} """;
        Post("register: not JSON", RegisterPath, "{", "not valid JSON");
        Post("register: an array", RegisterPath, "[]", "JSON object");
        Post("register: appName missing", RegisterPath, $$"""{"url":{{url}},"functions":[]}""", "appName");
        Post("register: appName a number", RegisterPath, $$"""{"appName":5,"url":{{url}},"functions":[]}""", "appName");
        Post("register: appName too long", RegisterPath, $$"""{"appName":"{{long257}}","url":{{url}},"functions":[]}""", "appName");
        Post("register: url ftp", RegisterPath, """{"appName":"reg","url":"ftp://127.0.0.1/x","functions":[]}""", "url");
        Post("register: url relative", RegisterPath, """{"appName":"reg","url":"/api/inngest","functions":[]}""", "url");
        Post("register: url with credentials", RegisterPath, """{"appName":"reg","url":"http://u:p@127.0.0.1/x","functions":[]}""", "url");
        Post("register: functions an object", RegisterPath, $$"""{"appName":"reg","url":{{url}},"functions":{} }""", "functions");
        Post("register: function a number", RegisterPath, Fn("5"), "functions[0]");
        Post("register: function without id", RegisterPath, Fn("""{"triggers":[{"event":"bad/x"}]}"""), "functions[0].id");
        Post("register: function without triggers", RegisterPath, Fn("""{"id":"reg-f"}"""), "triggers");
        Post("register: trigger with event and cron", RegisterPath, Fn("""{"id":"reg-f","triggers":[{"event":"bad/x","cron":"* * * * *"}]}"""), "exactly one");
        Post("register: trigger with neither", RegisterPath, Fn("""{"id":"reg-f","triggers":[{}]}"""), "exactly one");
        Post("register: invalid CEL", RegisterPath, Fn("""{"id":"reg-f","triggers":[{"event":"bad/x","expression":"event.data.a >"}]}"""), "expression");
        Post("register: retries 99", RegisterPath, Fn("""{"id":"reg-f","triggers":[{"event":"bad/x"}],"steps":{"step":{"retries":{"attempts":99}}}}"""), "retries");
        Post("register: retries a string", RegisterPath, Fn("""{"id":"reg-f","triggers":[{"event":"bad/x"}],"steps":{"step":{"retries":{"attempts":"3"}}}}"""), "retries");
        Post("register: step url invalid", RegisterPath, Fn("""{"id":"reg-f","triggers":[{"event":"bad/x"}],"steps":{"step":{"runtime":{"url":"gopher://x"}}}}"""), "runtime.url");
        Post("register: duplicate function id", RegisterPath, Fn($$"""{"id":"reg-f","triggers":[{"event":"bad/x"}],{{Step}}},{"id":"reg-f","triggers":[{"event":"bad/y"}]}"""), "twice");
        Post("register: NUL in appName", RegisterPath, $$"""{"appName":"reg\u0000","url":{{url}},"functions":[]}""", "NUL");
        Post("register: lone surrogate in function name", RegisterPath, Fn("""{"id":"reg-f","name":"\ud800","triggers":[{"event":"bad/x"}]}"""), "surrogate");
        Post("register: 1e400 in config", RegisterPath, Fn("""{"id":"reg-f","triggers":[{"event":"bad/x"}],"priority":{"weight":1e400}}"""), "number");
        Post("register: nested 10,000 deep", RegisterPath, Fn($$"""{"id":"reg-f","triggers":[{"event":"bad/x"}],"extra":{{deepArrays}}}"""), "depth");
        PostBody("register: invalid UTF-8", RegisterPath, () => Bytes([.. "{\"appName\":\""u8, 0xC3, 0x28, .. "\"}"u8]), "not valid JSON", 400);
        PostBody("register: body 1 byte over the limit", RegisterPath, () => Json(BigEvent(RegisterEndpoints.MaxRequestBytes + 1)), "larger than", 413);
        PostBody("register: 12 MB body", RegisterPath, () => Json(BigEvent(TwelveMegabytes)), "larger than", 413);
        PostBody("register: chunked body 1 byte over the limit", RegisterPath, () => new ChunkedContent(RegisterEndpoints.MaxRequestBytes + 1, (byte)' '), "larger than", 413);

        // POST /api/v1/apps/sync
        Post("sync: not JSON", SyncPath, "{", "JSON");
        Post("sync: url a number", SyncPath, """{"url":5}""", "JSON");
        Post("sync: url missing", SyncPath, "{}", "url");
        Post("sync: null body", SyncPath, "null", "url");
        Post("sync: url ftp", SyncPath, """{"url":"ftp://127.0.0.1/x"}""", "url");
        Post("sync: url relative", SyncPath, """{"url":"/api/inngest"}""", "url");
        Post("sync: NUL in url", SyncPath, """{"url":"http://127.0.0.1\u0000/x"}""", "url");
        Post("sync: lone surrogate in url", SyncPath, """{"url":"http://127.0.0.1/\ud800"}""", "url");
        Post("sync: 1e400 as url", SyncPath, """{"url":1e400}""", "JSON");
        Post("sync: nested 10,000 deep", SyncPath, $$"""{"url":"http://127.0.0.1/x","extra":{{deepArrays}}}""", "JSON");
        PostBody("sync: text/plain", SyncPath, () => new StringContent("""{"url":"http://127.0.0.1/x"}""", Encoding.UTF8, "text/plain"), "media type", 415);
        PostBody("sync: body 1 byte over the limit", SyncPath, () => Json(BigEvent(KestrelMaxBody + 1)), "too large", 413);
        PostBody("sync: 12 MB body", SyncPath, () => Json(BigEvent(TwelveMegabytes)), "too large", 413);
        PostBody("sync: chunked body 1 byte over the limit", SyncPath, () => new ChunkedContent(KestrelMaxBody + 1, (byte)' '), "too large", 413);

        // GET /api/v1/... with bad query values
        foreach (var limit in new[] { "abc", "0", "-1", "201", "99999999999", "1.5", "%00" })
        {
            Get($"events: limit={limit}", $"/api/v1/events?limit={limit}", "limit");
            Get($"runs: limit={limit}", $"/api/v1/runs?limit={limit}", "limit");
        }

        Get("events: NUL in name", "/api/v1/events?name=a%00b", "NUL");
        Get("events: NUL in cursor", "/api/v1/events?cursor=%00", "NUL");
        Get("events: name too long", $"/api/v1/events?name={new string('n', 600)}", "512");
        Get("runs: unknown status", "/api/v1/runs?status=Bogus", "status");
        Get("runs: one unknown status in a list", "/api/v1/runs?status=Queued,Nope", "Nope");
        Get("runs: NUL in status", "/api/v1/runs?status=%00", "NUL");
        Get("runs: from not a time", "/api/v1/runs?from=yesterday", "from");
        Get("runs: to not a time", "/api/v1/runs?to=2026-13-45", "to");
        Get("runs: NUL in from", "/api/v1/runs?from=%00", "NUL");
        Get("runs: NUL in function", "/api/v1/runs?function=%00", "NUL");
        Get("runs: NUL in cursor", "/api/v1/runs?cursor=x%00", "NUL");
        Get("functions: archived=maybe", "/api/v1/functions?archived=maybe", "archived");
        Get("functions: NUL in app", "/api/v1/functions?app=%00", "NUL");

        // Ids in the path: NUL (refused by Kestrel), and ids that do not exist.
        foreach (var path in new[] { "/e/key%00x", "/api/v1/apps/a%00b", "/api/v1/functions/a%00b", "/api/v1/events/a%00b", "/api/v1/events/a%00b/runs", "/api/v1/runs/a%00b" })
        {
            cases[$"NUL in path {path}"] = new(path.StartsWith("/e/", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get, path,
                path.StartsWith("/e/", StringComparison.Ordinal) ? () => Json("""{"name":"bad/x"}""") : null, [400], null);
        }

        cases["NUL in path /api/v1/runs/a%00b/cancel"] = new(HttpMethod.Post, "/api/v1/runs/a%00b/cancel", null, [400], null);
        Get("apps: unknown", "/api/v1/apps/no-such-app", "No app", 404);
        Get("functions: unknown", "/api/v1/functions/no-such-fn", "No function", 404);
        Get("events: unknown", "/api/v1/events/01JUNKNOWNEVENT000000000000", "No event", 404);
        Get("event runs: unknown", "/api/v1/events/01JUNKNOWNEVENT000000000000/runs", "No event", 404);
        Get("runs: unknown", "/api/v1/runs/01JUNKNOWNRUN00000000000000", "No run", 404);
        Get("runs: lone surrogate in id", "/api/v1/runs/%ED%A0%80", "No run", 404);
        Get("runs: SQL in id", "/api/v1/runs/%27%20OR%20%271%27%3D%271", "No run", 404);
        cases["cancel: unknown run"] = new(HttpMethod.Post, "/api/v1/runs/01JUNKNOWNRUN00000000000000/cancel", null, [404], "No run");
        return cases;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static ByteArrayContent Bytes(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new("application/json");
        return content;
    }

    /// <summary>A valid event of exactly <paramref name="bytes"/> bytes (a long string in its data).</summary>
    private static string BigEvent(int bytes)
    {
        const string Head = "{\"name\":\"bad/big\",\"data\":{\"s\":\"";
        const string Tail = "\"}}";
        return Head + new string('a', bytes - Head.Length - Tail.Length) + Tail;
    }
}
