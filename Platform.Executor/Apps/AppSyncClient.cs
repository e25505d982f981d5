using System.Net.Http.Headers;
using System.Text.Json;
using Platform.Executor.Security;

namespace Platform.Executor.Apps;

/// <summary>Asks an app to sync itself: <c>PUT &lt;appUrl&gt;</c> with <c>{"url":…}</c> (protocol.md §6.1), signed in production mode.</summary>
public sealed class AppSyncClient(HttpClient http, RequestSigner signer)
{
    public async Task<(int Status, string Body)> RequestSyncAsync(string appUrl, CancellationToken cancellationToken)
    {
        var (payload, signature) = signer.Prepare(JsonSerializer.SerializeToUtf8Bytes(new { url = appUrl }));
        var content = new ByteArrayContent(payload);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Put, appUrl) { Content = content };
        request.Headers.TryAddWithoutValidation(RequestSigner.ServerKindHeader, signer.ServerKind);
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation(RequestSigner.SignatureHeader, signature);
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            return ((int)response.StatusCode, body.Length > 2000 ? body[..2000] : body);
        }
        catch (HttpRequestException ex)
        {
            return (502, $"Could not reach the app at {appUrl}: {ex.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (504, $"The app at {appUrl} did not answer in time");
        }
    }
}
