using System.Buffers;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using Platform.Executor.Protocol;
using Platform.Executor.Security;

namespace Platform.Executor.Runs;

/// <summary>
/// The HTTP driver: POSTs one call request to an app and classifies the reply. Never throws for anything the
/// app or the network does; every failure becomes a <see cref="CallFailed"/> the state machine can retry.
/// Redirects are not followed; the whole call, body included, is bounded by <see cref="ExecutorOptions.HttpTimeout"/>.
/// In production mode the body is sent in JCS form and signed (<see cref="RequestSigner"/>).
/// </summary>
public sealed class AppCaller(HttpClient http, IOptions<ExecutorOptions> options, RequestSigner signer)
{
    public const string HttpClientName = "platform-app-calls";
    private static readonly MediaTypeHeaderValue s_json = new("application/json");
    private readonly ExecutorOptions _options = options.Value;

    public async Task<CallOutcome> CallAsync(string functionUrl, string functionSlug, string runId, string stepId, byte[] body, CancellationToken cancellationToken)
    {
        var url = BuildUrl(functionUrl, functionSlug, stepId);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.HttpTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url);
            var (sent, signature) = signer.Prepare(body);
            request.Content = new ByteArrayContent(sent);
            request.Content.Headers.ContentType = s_json;
            request.Headers.TryAddWithoutValidation(RequestSigner.ServerKindHeader, signer.ServerKind);
            if (signature is not null)
            {
                request.Headers.TryAddWithoutValidation(RequestSigner.SignatureHeader, signature);
            }

            request.Headers.TryAddWithoutValidation("X-Run-Id", runId);
            request.Headers.TryAddWithoutValidation("X-Inngest-Step-Id", stepId);

            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var (bytes, tooLarge) = await ReadBoundedAsync(response.Content, _options.MaxReplyBytes, timeout.Token);
            return CallResponseParser.Parse(new RawCallResponse(
                (int)response.StatusCode,
                response.Content.Headers.ContentType?.ToString(),
                response.Headers.Contains("X-Inngest-Sdk"),
                Header(response, "X-Inngest-No-Retry"),
                Header(response, "Retry-After"),
                bytes,
                tooLarge));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new CallFailed(null, ErrorJson.Create("TimeoutError", $"The app did not answer within {_options.HttpTimeout.TotalSeconds:0.#} s"), Final: false, null);
        }
        catch (HttpRequestException ex)
        {
            return new CallFailed(null, ErrorJson.Create("ConnectionError", $"Calling the app at {url.GetLeftPart(UriPartial.Path)} failed: {ex.Message}"), Final: false, null);
        }
        catch (IOException ex)
        {
            return new CallFailed(null, ErrorJson.Create("ConnectionError", $"The connection to the app broke: {ex.Message}"), Final: false, null);
        }
    }

    internal static Uri BuildUrl(string functionUrl, string slug, string stepId)
    {
        var builder = new UriBuilder(functionUrl);
        var query = System.Web.HttpUtility.ParseQueryString(builder.Query);
        query["fnId"] = slug;
        query["stepId"] = stepId;
        builder.Query = query.ToString();
        return builder.Uri;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private static async Task<(ReadOnlyMemory<byte> Bytes, bool TooLarge)> ReadBoundedAsync(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength is { } length && length > limit)
        {
            return (ReadOnlyMemory<byte>.Empty, true);
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var buffer = new ArrayBufferWriter<byte>(content.Headers.ContentLength is { } l and > 0 ? (int)Math.Min(l, limit) + 1 : 16 * 1024);
        while (true)
        {
            var memory = buffer.GetMemory(16 * 1024);
            var read = await stream.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                return (buffer.WrittenMemory, false);
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                // Cut off at the limit: a 50 MB reply is never buffered whole.
                return (ReadOnlyMemory<byte>.Empty, true);
            }
        }
    }
}
