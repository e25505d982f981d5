using System.Net.Http.Json;

namespace Platform.Executor.Apps;

/// <summary>Asks an app to sync itself: <c>PUT &lt;appUrl&gt;</c> with <c>{"url":…}</c> (protocol.md §6.1).</summary>
public sealed class AppSyncClient(HttpClient http)
{
    public async Task<(int Status, string Body)> RequestSyncAsync(string appUrl, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, appUrl) { Content = JsonContent.Create(new { url = appUrl }) };
        request.Headers.TryAddWithoutValidation("X-Inngest-Server-Kind", "dev");
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
