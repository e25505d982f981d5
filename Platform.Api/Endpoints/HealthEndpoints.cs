using Npgsql;
using Platform.Executor.Storage;

namespace Platform.Api.Endpoints;

/// <summary><c>GET /health</c>: the process and its database.</summary>
public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", CheckAsync).WithTags("Health").WithSummary("Health of the platform and its database.");
        return app;
    }

    private static async Task<IResult> CheckAsync(PlatformDatabase database, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await using var connection = await database.DataSource.OpenConnectionAsync(timeout.Token);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(timeout.Token);
            var ms = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            return Results.Json(new { status = "Healthy", database = new { status = "Healthy", latencyMs = Math.Round(ms, 2) } });
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return Results.Json(new { status = "Unhealthy", database = new { status = "Unhealthy", error = ex.Message } }, statusCode: 503);
        }
    }
}
