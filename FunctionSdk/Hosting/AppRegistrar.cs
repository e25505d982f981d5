using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Events;
using FunctionSdk.Functions;
using FunctionSdk.Protocol;
using Microsoft.Extensions.Options;

namespace FunctionSdk.Hosting;

/// <summary>The outcome of a sync, as the SDK relays it to whoever asked (protocol.md §6.5).</summary>
internal sealed record SyncOutcome(int Status, string Message, bool Modified)
{
    public bool Succeeded => Status is >= 200 and < 300;
}

/// <summary>Syncs the app: POSTs its function configs to <c>{PlatformUrl}/fn/register</c> (protocol.md §6).</summary>
internal sealed class AppRegistrar(
    FunctionCatalog catalog,
    IHttpClientFactory httpClients,
    IOptions<DurableFunctionsOptions> options)
{
    public int FunctionCount => catalog.All.Count;

    /// <summary>The register body (§6.3, §6.4) for the endpoint at <paramref name="serveUrl"/>.</summary>
    public JsonObject BuildPayload(string serveUrl, string? deployId)
    {
        var settings = options.Value;
        var url = deployId is null ? serveUrl : AddQuery(serveUrl, $"deployId={Uri.EscapeDataString(deployId)}");
        var functions = new JsonArray();
        foreach (var function in catalog.All.OrderBy(f => f.Id, StringComparer.Ordinal))
        {
            var slug = $"{settings.AppId}-{function.Id}";
            var triggers = new JsonArray();
            foreach (var trigger in function.Triggers)
            {
                var json = new JsonObject();
                if (trigger.Cron is not null)
                {
                    json["cron"] = trigger.Cron;
                }
                else
                {
                    json["event"] = trigger.Event;
                    if (trigger.ExpressionIn(settings.AppId) is { } expression)
                    {
                        json["expression"] = expression;
                    }
                }

                triggers.Add(json);
            }

            var step = new JsonObject
            {
                ["id"] = StepIds.Discovery,
                ["name"] = StepIds.Discovery,
                ["runtime"] = new JsonObject
                {
                    ["type"] = "http",
                    ["url"] = AddQuery(url, $"fnId={Uri.EscapeDataString(slug)}&stepId={StepIds.Discovery}"),
                },
            };
            if (function.Retries is { } retries)
            {
                step["retries"] = new JsonObject { ["attempts"] = retries };
            }

            functions.Add(new JsonObject
            {
                ["id"] = slug,
                ["name"] = function.Name ?? function.Id,
                ["triggers"] = triggers,
                ["steps"] = new JsonObject { [StepIds.Discovery] = step },
            });
        }

        var payload = new JsonObject
        {
            ["url"] = url,
            ["deployType"] = "ping",
            ["appName"] = settings.AppId,
            ["framework"] = SdkInfo.Framework,
            ["sdk"] = SdkInfo.RegisterField,
            ["v"] = "0.1",
            ["capabilities"] = new JsonObject { ["trust_probe"] = "v1" },
            ["functions"] = functions,
        };
        if (deployId is not null)
        {
            payload["deployId"] = deployId;
        }

        return payload;
    }

    public async Task<SyncOutcome> RegisterAsync(string serveUrl, string? deployId, string? serverKind, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var register = new Uri(new Uri(settings.PlatformUrl), "/fn/register" + (deployId is null ? "" : $"?deployId={Uri.EscapeDataString(deployId)}"));
        using var request = new HttpRequestMessage(HttpMethod.Post, register)
        {
            Content = new StringContent(BuildPayload(serveUrl, deployId).ToJsonString(Wire.Options), Encoding.UTF8, "application/json"),
        };
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("inngest-dotnet", "v" + SdkInfo.Version));
        request.Headers.Add("X-Inngest-Sdk", SdkInfo.Header);
        request.Headers.Add("X-Inngest-Sdk-Handled", "true");
        request.Headers.Add("X-Inngest-Framework", SdkInfo.Framework);
        request.Headers.Add("X-Inngest-Sync-Kind", "out_of_band");
        if (!string.IsNullOrEmpty(serverKind))
        {
            request.Headers.Add("X-Inngest-Expected-Server-Kind", serverKind);
        }

        if (!string.IsNullOrEmpty(settings.SigningKey))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Signatures.BearerToken(settings.SigningKey));
        }

        HttpResponseMessage response;
        try
        {
            response = await httpClients.CreateClient(DurableEventClient.HttpClientName)
                .SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            return new SyncOutcome(500, $"Failed to register; the platform at {settings.PlatformUrl} could not be reached: {e.Message}", false);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return new SyncOutcome(500, $"Failed to register; the platform at {settings.PlatformUrl} did not answer in time: {e.Message}", false);
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            JsonNode? reply;
            try
            {
                reply = JsonNode.Parse(text);
            }
            catch (JsonException e)
            {
                return new SyncOutcome(500, $"Failed to register; {e.Message}; status code: {status}", false);
            }

            var modified = reply?["modified"] is JsonValue m && m.TryGetValue<bool>(out var changed) && changed;
            // The JS SDK takes the status from the reply body; without one it would say 200 even for a 4xx,
            // so fall back to the HTTP status instead.
            var bodyStatus = reply?["status"] is JsonValue s && s.TryGetValue<int>(out var code) ? code : status;
            if (bodyStatus is >= 200 and < 300 && status is >= 200 and < 300)
            {
                return new SyncOutcome(bodyStatus, "Successfully registered", modified);
            }

            var message = reply?["error"]?.ToString() ?? reply?["message"]?.ToString() ?? $"status code: {status}";
            return new SyncOutcome(bodyStatus is >= 200 and < 300 ? status : bodyStatus, message, modified);
        }
    }

    private static string AddQuery(string url, string query) =>
        url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query;
}
