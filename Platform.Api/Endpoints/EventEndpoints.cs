using Platform.Executor.Events;

namespace Platform.Api.Endpoints;

/// <summary><c>POST /e/{eventKey}</c>: the event API the Inngest SDKs send to (protocol.md §16).</summary>
public static class EventEndpoints
{
    /// <summary>Largest send accepted; larger bodies get 413 without being read whole.</summary>
    public const int MaxRequestBytes = 10 * 1024 * 1024;

    public static IEndpointRouteBuilder MapEventApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/e/{eventKey}", SendAsync)
            .WithTags("Events")
            .WithName("SendEvents")
            .WithSummary("Send one event or an array of events; answers after they are committed.")
            .Produces(200)
            .Produces(400)
            .Produces(413);
        return app;
    }

    private static async Task<IResult> SendAsync(string eventKey, HttpRequest request, EventIngest ingest, TimeProvider time, CancellationToken cancellationToken)
    {
        // Dev mode (no keys configured): any event key is accepted, as with Inngest's dev server.
        var (body, tooLarge) = await RequestBody.ReadAsync(request, MaxRequestBytes, cancellationToken);
        if (tooLarge)
        {
            return Error(413, $"The request body is larger than {MaxRequestBytes} bytes");
        }

        var (events, error) = EventIngest.Parse(body, time.GetUtcNow().ToUnixTimeMilliseconds());
        if (events is null)
        {
            return Error(400, error!);
        }

        var result = await ingest.IngestAsync(events, request.Headers["X-Inngest-Event-Id-Seed"].FirstOrDefault(), cancellationToken);
        return Results.Json(new { ids = result.Ids, status = 200 });
    }

    private static IResult Error(int status, string error) => Results.Json(new { ids = Array.Empty<string>(), status, error }, statusCode: status);
}
