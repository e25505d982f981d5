using System.Net;
using System.Text;
using System.Text.Json;
using Npgsql;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Integration;

/// <summary>A function as the sync payload declares it: its short id and its trigger objects (raw JSON).</summary>
public sealed record FunctionSpec(string Id, params string[] Triggers);

/// <summary>An HTTP reply with its body, read as text and (if it parses) as JSON.</summary>
public sealed record Reply(HttpStatusCode Status, string Text)
{
    public int Code => (int)Status;

    public JsonElement Json
    {
        get
        {
            using var doc = JsonDocument.Parse(Text);
            return doc.RootElement.Clone();
        }
    }

    /// <summary>The message of an error body in any of the platform's three shapes (event API, register, ProblemDetails).</summary>
    public string ErrorMessage
    {
        get
        {
            try
            {
                var json = Json;
                foreach (var key in new[] { "error", "detail", "title" })
                {
                    if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String)
                    {
                        return v.GetString()!;
                    }
                }
            }
            catch (JsonException)
            {
            }

            return "";
        }
    }

    public override string ToString() => $"{Code} {(Text.Length > 300 ? Text[..300] + "…" : Text)}";
}

/// <summary>Calls into a <see cref="PlatformApp"/> shared by the integration tests: sync, send, read rows.</summary>
public static class Api
{
    /// <summary>An app URL on 127.0.0.1 where nothing listens (port taken and released).</summary>
    public static string UnreachableAppUrl() => $"http://127.0.0.1:{PlatformApp.FreePort()}/api/inngest";

    /// <summary>The SDK's sync payload (protocol.md §6.3) for <paramref name="functions"/>.</summary>
    public static string SyncPayload(string appName, string appUrl, params FunctionSpec[] functions)
    {
        var fns = functions.Select(f =>
        {
            var slug = $"{appName}-{f.Id}";
            var stepUrl = $"{appUrl}?fnId={Uri.EscapeDataString(slug)}&stepId=step";
            return $$"""
                {"id":{{JsonSerializer.Serialize(slug)}},"name":{{JsonSerializer.Serialize(f.Id)}},
                 "triggers":[{{string.Join(",", f.Triggers)}}],
                 "steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":{{JsonSerializer.Serialize(stepUrl)}} } } } }
                """;
        });
        return $$"""
            {"url":{{JsonSerializer.Serialize(appUrl)}},"deployType":"ping","appName":{{JsonSerializer.Serialize(appName)}},
             "framework":"test","sdk":"js:v4.24.0","v":"0.1","functions":[{{string.Join(",", fns)}}]}
            """;
    }

    /// <summary>Registers an app through <c>POST /fn/register</c>, failing the test unless it is accepted.</summary>
    public static async Task RegisterAsync(PlatformApp platform, string appName, string appUrl, params FunctionSpec[] functions)
    {
        var reply = await PostAsync(platform, "/fn/register", SyncPayload(appName, appUrl, functions));
        Assert.True(reply.Status == HttpStatusCode.OK, $"register failed: {reply}");
    }

    public static Task<Reply> SendAsync(PlatformApp platform, string body, string? seed = null) =>
        PostAsync(platform, "/e/test-key", body, seed is null ? null : ("X-Inngest-Event-Id-Seed", seed));

    public static async Task<Reply> PostAsync(PlatformApp platform, string path, string body, (string Name, string Value)? header = null)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        return await PostAsync(platform, path, content, header);
    }

    public static async Task<Reply> PostAsync(PlatformApp platform, string path, HttpContent content, (string Name, string Value)? header = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        if (header is { } h)
        {
            request.Headers.TryAddWithoutValidation(h.Name, h.Value);
        }

        using var response = await platform.Http.SendAsync(request);
        return new Reply(response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    public static async Task<Reply> GetAsync(PlatformApp platform, string pathAndQuery)
    {
        using var response = await platform.Http.GetAsync(pathAndQuery);
        return new Reply(response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The event ids a successful send returned.</summary>
    public static string[] Ids(Reply reply) => reply.Json.GetProperty("ids").EnumerateArray().Select(e => e.GetString()!).ToArray();

    /// <summary>Runs created from events carrying the sender's id <paramref name="eventId"/> (any internal id).</summary>
    public static async Task<long> RunsForEventIdAsync(PlatformApp platform, string eventId) =>
        await platform.ScalarAsync<long>(
            "SELECT count(*) FROM platform.runs r JOIN platform.events e ON e.id = r.event_id WHERE e.event_id = @id", ("id", eventId));

    /// <summary>Runs created from the event with internal id <paramref name="internalId"/>.</summary>
    public static async Task<long> RunsForInternalIdAsync(PlatformApp platform, string internalId) =>
        await platform.ScalarAsync<long>("SELECT count(*) FROM platform.runs WHERE event_id = @id", ("id", internalId));

    /// <summary>Row counts of the tables a bad request must not touch.</summary>
    public static async Task<RowCounts> CountRowsAsync(PlatformApp platform)
    {
        await using var connection = new NpgsqlConnection(platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT (SELECT count(*) FROM platform.events), (SELECT count(*) FROM platform.runs),
                   (SELECT count(*) FROM platform.apps), (SELECT count(*) FROM platform.functions),
                   (SELECT count(*) FROM platform.event_dedupe)
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new RowCounts(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
    }

    /// <summary>The first column of every row of a query, as text.</summary>
    public static async Task<List<string>> ListAsync(PlatformApp platform, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.IsDBNull(0) ? "" : Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        }

        return rows;
    }

    /// <summary>Runs a SQL statement against the platform's database.</summary>
    public static async Task<int> ExecuteAsync(PlatformApp platform, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(platform.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return await command.ExecuteNonQueryAsync();
    }
}

public sealed record RowCounts(long Events, long Runs, long Apps, long Functions, long DedupeIds)
{
    public override string ToString() => $"events={Events} runs={Runs} apps={Apps} functions={Functions} event_dedupe={DedupeIds}";
}

/// <summary>A body sent with chunked transfer encoding (no Content-Length), so only the reader can enforce a limit.</summary>
public sealed class ChunkedContent : HttpContent
{
    private readonly long _length;
    private readonly byte _fill;

    public ChunkedContent(long length, byte fill)
    {
        _length = length;
        _fill = fill;
        Headers.ContentType = new("application/json");
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, _fill);
        for (var sent = 0L; sent < _length; sent += chunk.Length)
        {
            await stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, _length - sent)));
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
