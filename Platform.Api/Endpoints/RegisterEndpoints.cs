using Platform.Executor.Apps;

namespace Platform.Api.Endpoints;

/// <summary><c>POST /fn/register</c>: an app pushes its functions (protocol.md §6).</summary>
public static class RegisterEndpoints
{
    public const int MaxRequestBytes = 4 * 1024 * 1024;

    public static IEndpointRouteBuilder MapRegisterApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/fn/register", RegisterAsync)
            .WithTags("Apps")
            .WithName("RegisterApp")
            .WithSummary("Register (sync) an app and its functions; the body is the SDK's sync payload.")
            .Produces(200)
            .Produces(400);
        return app;
    }

    private static async Task<IResult> RegisterAsync(HttpRequest request, AppSync sync, CancellationToken cancellationToken)
    {
        var (body, tooLarge) = await RequestBody.ReadAsync(request, MaxRequestBytes, cancellationToken);
        if (tooLarge)
        {
            return Results.Json(new { error = $"The sync payload is larger than {MaxRequestBytes} bytes", status = 413 }, statusCode: 413);
        }

        var result = await sync.RegisterAsync(body, cancellationToken);
        return result.Status == 200
            ? Results.Json(new { ok = true, modified = result.Modified, app_id = result.AppId })
            // The SDK relays the "status" field of the body to whoever asked it to sync (protocol.md §6.5).
            : Results.Json(new { error = result.Error, status = result.Status }, statusCode: result.Status);
    }
}
