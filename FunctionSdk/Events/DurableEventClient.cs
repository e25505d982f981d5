using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionSdk.Events;

/// <summary>
/// Sends events with <c>POST {PlatformUrl}/e/{EventKey}</c> (protocol.md §16). Network errors, 5xx and 429 are
/// retried (5 attempts, exponential backoff from 100 ms) with the same <c>X-Inngest-Event-Id-Seed</c>, so the
/// platform gives the retried events the same ids; other 4xx answers fail at once with the platform's message.
/// </summary>
internal sealed partial class DurableEventClient(
    IHttpClientFactory httpClients,
    IOptions<DurableFunctionsOptions> options,
    TimeProvider time,
    ILogger<DurableEventClient> logger) : IEventSender
{
    internal const string HttpClientName = "FunctionSdk";
    private const int MaxAttempts = 5;
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    public Task<SendEventsResult> SendAsync<T>(T data, CancellationToken cancellationToken = default)
        where T : notnull =>
        SendAsync([EventMessage.From(data)], cancellationToken);

    public async Task<SendEventsResult> SendAsync(IReadOnlyList<EventMessage> events, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            throw new ArgumentException("At least one event is required.", nameof(events));
        }

        var body = new JsonArray();
        foreach (var message in events)
        {
            if (string.IsNullOrWhiteSpace(message.Name))
            {
                throw new ArgumentException("Every event needs a name.", nameof(events));
            }

            var data = message.Data is null ? null : JsonSerializer.SerializeToNode(message.Data, message.Data.GetType(), s_json);
            if (data is not null and not JsonObject)
            {
                throw new ArgumentException($"The data of event \"{message.Name}\" must serialize to a JSON object.", nameof(events));
            }

            var item = new JsonObject { ["name"] = message.Name, ["data"] = data ?? new JsonObject() };
            if (message.Id is not null)
            {
                item["id"] = message.Id;
            }

            item["ts"] = (message.Timestamp ?? time.GetUtcNow()).ToUnixTimeMilliseconds();
            body.Add(item);
        }

        var settings = options.Value;
        var url = $"{settings.PlatformUrl.TrimEnd('/')}/e/{Uri.EscapeDataString(settings.EventKey)}";
        var seed = $"{time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture)},{Convert.ToBase64String(RandomNumberGenerator.GetBytes(10))}";
        var payload = body.ToJsonString(Wire.Options);
        var client = httpClients.CreateClient(HttpClientName);
        var delay = settings.EventRetryInitialDelay;
        string failure = "";
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            bool retry;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, url)
                {
                    Content = new StringContent(payload, Encoding.UTF8, "application/json"),
                };
                request.Headers.UserAgent.Add(new ProductInfoHeaderValue("inngest-dotnet", "v" + SdkInfo.Version));
                request.Headers.Add("X-Inngest-Sdk", SdkInfo.Header);
                request.Headers.Add("X-Inngest-Sdk-Handled", "true");
                request.Headers.Add("X-Inngest-Event-Id-Seed", seed);
                using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
                var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                if (TryReadIds(response.StatusCode, text, events.Count, out var ids, out failure))
                {
                    return new SendEventsResult(ids);
                }

                retry = (int)response.StatusCode >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests;
            }
            catch (HttpRequestException e)
            {
                failure = e.Message;
                retry = true;
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                failure = $"timed out ({e.Message})";
                retry = true;
            }

            if (!retry || attempt == MaxAttempts)
            {
                break;
            }

            LogSendRetry(logger, events.Count, attempt, failure, delay);
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            delay *= 2;
        }

        throw new HttpRequestException($"Sending {events.Count} event(s) to {url} failed: {failure}");
    }

    private static bool TryReadIds(HttpStatusCode status, string text, int expected, out List<string> ids, out string failure)
    {
        ids = [];
        JsonNode? reply;
        try
        {
            reply = JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            failure = $"HTTP {(int)status}, not a JSON reply: {Truncate(text)}";
            return false;
        }

        var bodyStatus = reply?["status"] is JsonValue s && s.TryGetValue<int>(out var code) ? code : (int?)null;
        if ((int)status is < 200 or > 299 || bodyStatus != 200)
        {
            var error = reply?["error"]?.ToString() ?? Truncate(text);
            failure = $"HTTP {(int)status}: {error}";
            return false;
        }

        if (reply?["ids"] is JsonArray list)
        {
            ids = list.Select(i => i?.ToString() ?? "").ToList();
        }

        if (ids.Count != expected)
        {
            failure = $"the platform returned {ids.Count} ids for {expected} events";
            return false;
        }

        failure = "";
        return true;
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "...";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sending {Count} event(s) failed on attempt {Attempt}: {Failure}; retrying in {Delay}")]
    private static partial void LogSendRetry(ILogger logger, int count, int attempt, string failure, TimeSpan delay);
}
