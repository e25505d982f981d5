using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Execution;
using FunctionSdk.Functions;
using FunctionSdk.Protocol;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionSdk.Hosting;

/// <summary>Where <c>MapDurableFunctions</c> put the endpoint (for the sync on start).</summary>
internal sealed class EndpointState
{
    public string? Path { get; set; }
}

/// <summary>
/// The app's one URL (protocol.md §3): <c>GET</c> introspection, <c>PUT</c> sync, <c>POST</c> calls. It verifies
/// and parses; the engine decides; this maps the decision to 200/206/400/500 and the protocol headers.
/// </summary>
internal sealed partial class DurableEndpoint(
    FunctionCatalog catalog,
    AppRegistrar registrar,
    IEventSender eventSender,
    IServiceScopeFactory scopes,
    IOptions<DurableFunctionsOptions> options,
    TimeProvider time,
    ILoggerFactory loggers)
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);
    private readonly ILogger _logger = loggers.CreateLogger("FunctionSdk.Endpoint");

    public async Task HandleAsync(HttpContext http)
    {
        var settings = options.Value;
        var request = http.Request;
        http.Response.Headers["X-Inngest-Sdk"] = SdkInfo.Header;
        var body = await ReadBodyAsync(request, http.RequestAborted).ConfigureAwait(false);
        var signingKey = string.IsNullOrEmpty(settings.SigningKey) ? null : settings.SigningKey;

        // A PUT only makes the app sync itself with its own configuration, so it is allowed unsigned (as in the JS SDK).
        if (signingKey is not null && (HttpMethods.IsGet(request.Method) || HttpMethods.IsPost(request.Method)) &&
            !Signatures.Verify(request.Headers["X-Inngest-Signature"], body, signingKey, time.GetUtcNow()))
        {
            LogUnauthorized(_logger, request.Method);
            await WriteAsync(http, 401, new JsonObject { ["message"] = "Unauthorized" }, null).ConfigureAwait(false);
            return;
        }

        if (HttpMethods.IsGet(request.Method))
        {
            await WriteAsync(http, 200, Introspection(settings, signingKey), signingKey).ConfigureAwait(false);
        }
        else if (HttpMethods.IsPut(request.Method))
        {
            await SyncAsync(http, settings).ConfigureAwait(false);
        }
        else if (HttpMethods.IsPost(request.Method))
        {
            var probe = request.Query["probe"].ToString();
            if (probe.Length > 0)
            {
                if (probe == "trust")
                {
                    http.Response.StatusCode = 200;
                    SignIfKeyed(http, "", signingKey, time);
                    return;
                }

                await WriteAsync(http, 400, new JsonObject { ["message"] = $"Unknown probe \"{probe}\"." }, signingKey).ConfigureAwait(false);
                return;
            }

            await CallAsync(http, body, settings, signingKey).ConfigureAwait(false);
        }
        else
        {
            await WriteAsync(http, 405, new JsonObject { ["message"] = "Method not allowed" }, null).ConfigureAwait(false);
        }
    }

    private JsonObject Introspection(DurableFunctionsOptions settings, string? signingKey)
    {
        var json = new JsonObject
        {
            ["extra"] = new JsonObject { ["native_crypto"] = true },
            ["has_event_key"] = !string.IsNullOrEmpty(settings.EventKey),
            ["has_signing_key"] = signingKey is not null,
            ["function_count"] = catalog.All.Count,
            ["mode"] = signingKey is null ? "dev" : "cloud",
            ["schema_version"] = SdkInfo.SchemaVersion,
        };
        if (signingKey is not null)
        {
            // Only reached with a valid signature: the authenticated shape (protocol.md §8).
            json["authentication_succeeded"] = true;
            json["app_id"] = settings.AppId;
            json["api_origin"] = settings.PlatformUrl;
            json["event_api_origin"] = settings.PlatformUrl;
            json["capabilities"] = new JsonObject { ["trust_probe"] = "v1" };
            json["event_key_hash"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(settings.EventKey)));
            json["signing_key_hash"] = Signatures.BearerToken(signingKey)[^64..][..12];
            json["framework"] = SdkInfo.Framework;
            json["sdk_language"] = SdkInfo.Language;
            json["sdk_version"] = SdkInfo.Version;
        }

        return json;
    }

    private async Task SyncAsync(HttpContext http, DurableFunctionsOptions settings)
    {
        var request = http.Request;
        var serveUrl = string.IsNullOrEmpty(settings.ServeUrl)
            ? $"{request.Scheme}://{request.Host}{request.PathBase}{request.Path}"
            : settings.ServeUrl;
        var deployId = request.Query["deployId"].ToString();
        var outcome = await registrar.RegisterAsync(
            serveUrl,
            deployId.Length == 0 ? null : deployId,
            request.Headers["X-Inngest-Server-Kind"].ToString() is { Length: > 0 } kind ? kind : null,
            http.RequestAborted).ConfigureAwait(false);
        if (outcome.Succeeded)
        {
            LogSynced(_logger, settings.AppId, registrar.FunctionCount, serveUrl, settings.PlatformUrl);
        }
        else
        {
            LogSyncFailed(_logger, settings.AppId, settings.PlatformUrl, outcome.Status, outcome.Message);
        }

        http.Response.Headers["X-Inngest-Sync-Kind"] = "out_of_band";
        await WriteAsync(http, outcome.Status, new JsonObject { ["message"] = outcome.Message, ["modified"] = outcome.Modified }, null)
            .ConfigureAwait(false);
    }

    private async Task CallAsync(HttpContext http, byte[] body, DurableFunctionsOptions settings, string? signingKey)
    {
        var request = http.Request;
        http.Response.Headers["X-Inngest-Req-Version"] = SdkInfo.ReqVersion;
        var slug = request.Query["fnId"].ToString();
        if (slug.Length == 0)
        {
            await WriteAsync(http, 400, new JsonObject { ["message"] = "The fnId query parameter is required on a call." }, signingKey).ConfigureAwait(false);
            return;
        }

        var function = catalog.FindBySlug(settings.AppId, slug);
        if (function is null)
        {
            var message = $"Function \"{slug}\" was not found in this app; is the app synced correctly?";
            await WriteAsync(
                http,
                500,
                new JsonObject { ["type"] = "internal", ["name"] = "Error", ["message"] = message, ["stack"] = $"Error: {message}", ["__serialized"] = true },
                signingKey).ConfigureAwait(false);
            return;
        }

        if (body.Length == 0)
        {
            await WriteAsync(http, 400, new JsonObject { ["message"] = "The call has an empty body; the platform must send the event and the stored steps as JSON." }, signingKey)
                .ConfigureAwait(false);
            return;
        }

        var stepId = request.Query["stepId"].ToString() is { Length: > 0 } s ? s : request.Headers["X-Inngest-Step-Id"].ToString();
        CallRequest call;
        try
        {
            call = CallRequest.Parse(body, stepId);
        }
        catch (FormatException e)
        {
            await WriteAsync(http, 400, new JsonObject { ["message"] = e.Message }, signingKey).ConfigureAwait(false);
            return;
        }

        var executionSettings = new ExecutionSettings(settings.AppId, s_json, time, eventSender, settings.StepNotFoundTimeout);
        CallResult result;
        var scope = scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            try
            {
                result = await FunctionEngine.ExecuteAsync(
                    function,
                    call,
                    scope.ServiceProvider,
                    executionSettings,
                    loggers.CreateLogger($"FunctionSdk.Functions.{function.Id}"),
                    http.RequestAborted).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Not the function's own error (those are results): something failed around it. Retry.
                LogCallCrashed(_logger, e, slug, call.RunId);
                result = new FunctionFailed(ErrorSerializer.Serialize(e), Final: false);
            }
        }

        await WriteResultAsync(http, result, slug, call, signingKey).ConfigureAwait(false);
    }

    private async Task WriteResultAsync(HttpContext http, CallResult result, string slug, CallRequest call, string? signingKey)
    {
        var headers = http.Response.Headers;
        switch (result)
        {
            case FunctionReturned returned:
                LogReturned(_logger, slug, call.RunId);
                await WriteAsync(http, 200, returned.Output, signingKey).ConfigureAwait(false);
                break;
            case OpsReturned ops:
                if (ops.NoRetry is { } noRetry)
                {
                    headers["X-Inngest-No-Retry"] = noRetry ? "true" : "false";
                }

                if (ops.RetryAfter is not null)
                {
                    headers["Retry-After"] = ops.RetryAfter;
                }

                LogOps(_logger, slug, call.RunId, string.Join(", ", ops.Ops.Select(o => $"{o.Code} {o.DisplayName}")));
                await WriteAsync(http, 206, ops.Ops, signingKey).ConfigureAwait(false);
                break;
            case FunctionFailed failed:
                headers["X-Inngest-No-Retry"] = failed.Final ? "true" : "false";
                if (failed.RetryAfter is not null)
                {
                    headers["Retry-After"] = failed.RetryAfter;
                }

                LogFailed(_logger, slug, call.RunId, call.Attempt, failed.Final, failed.Error["message"]?.ToString());
                await WriteAsync(http, failed.Final ? 400 : 500, failed.Error, signingKey).ConfigureAwait(false);
                break;
            case StepNotFound notFound:
                headers["X-Inngest-No-Retry"] = "false";
                await WriteAsync(http, 500, notFound.Body, signingKey).ConfigureAwait(false);
                break;
        }
    }

    private async Task WriteAsync(HttpContext http, int status, JsonNode? body, string? signingKey)
    {
        var text = body?.ToJsonString(Wire.Options) ?? "null";
        await WriteTextAsync(http, status, text, signingKey).ConfigureAwait(false);
    }

    private async Task WriteAsync(HttpContext http, int status, IReadOnlyList<Op> ops, string? signingKey)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Wire.Options.Encoder }))
        {
            writer.WriteStartArray();
            foreach (var op in ops)
            {
                op.WriteTo(writer);
            }

            writer.WriteEndArray();
        }

        await WriteTextAsync(http, status, Encoding.UTF8.GetString(buffer.WrittenSpan), signingKey).ConfigureAwait(false);
    }

    private async Task WriteTextAsync(HttpContext http, int status, string text, string? signingKey)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        SignIfKeyed(http, text, signingKey, time);
        await http.Response.WriteAsync(text, http.RequestAborted).ConfigureAwait(false);
    }

    private static void SignIfKeyed(HttpContext http, string body, string? signingKey, TimeProvider time)
    {
        if (signingKey is not null)
        {
            http.Response.Headers["X-Inngest-Signature"] = Signatures.Sign(body, signingKey, time.GetUtcNow());
        }
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        var reader = request.BodyReader;
        while (true)
        {
            var read = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (read.IsCompleted || read.IsCanceled)
            {
                var bytes = read.Buffer.ToArray();
                reader.AdvanceTo(read.Buffer.End);
                return bytes;
            }

            reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rejected an unsigned or badly signed {Method} request to the durable functions endpoint")]
    private static partial void LogUnauthorized(ILogger logger, string method);

    [LoggerMessage(Level = LogLevel.Information, Message = "Synced app {AppId} ({FunctionCount} functions, served at {ServeUrl}) with the platform at {PlatformUrl}")]
    private static partial void LogSynced(ILogger logger, string appId, int functionCount, string serveUrl, string platformUrl);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Syncing app {AppId} with the platform at {PlatformUrl} failed ({Status}): {Message}")]
    private static partial void LogSyncFailed(ILogger logger, string appId, string platformUrl, int status, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "The call of {FunctionSlug} for run {RunId} failed outside the function")]
    private static partial void LogCallCrashed(ILogger logger, Exception exception, string functionSlug, string runId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{FunctionSlug} run {RunId}: function returned")]
    private static partial void LogReturned(ILogger logger, string functionSlug, string runId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{FunctionSlug} run {RunId}: {Ops}")]
    private static partial void LogOps(ILogger logger, string functionSlug, string runId, string ops);

    [LoggerMessage(Level = LogLevel.Information, Message = "{FunctionSlug} run {RunId} attempt {Attempt} threw (final: {Final}): {Message}")]
    private static partial void LogFailed(ILogger logger, string functionSlug, string runId, int attempt, bool final, string? message);
}
