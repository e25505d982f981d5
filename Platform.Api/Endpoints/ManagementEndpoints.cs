using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Executor.Apps;
using Platform.Executor.Queries;
using Platform.Executor.Runs;
using Platform.Executor.Security;

namespace Platform.Api.Endpoints;

/// <summary>The management API under <c>/api/v1</c>: apps, functions, events, runs.</summary>
public static class ManagementEndpoints
{
    public static IEndpointRouteBuilder MapManagementApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");

        var apps = api.MapGroup("/apps").WithTags("Apps");
        apps.MapGet("/", async (PlatformQueries q, CancellationToken ct) => TypedResults.Ok(await q.ListAppsAsync(ct)))
            .WithSummary("List registered apps.");
        apps.MapGet("/{appName}", GetAppAsync).WithSummary("One app by its id (the SDK's appName).");
        apps.MapPost("/sync", SyncAppAsync).WithSummary("Ask the app at a URL to sync itself (the platform sends PUT to it).");

        var functions = api.MapGroup("/functions").WithTags("Functions");
        functions.MapGet("/", ListFunctionsAsync).WithSummary("List functions, optionally of one app.");
        functions.MapGet("/{slug}", GetFunctionAsync).WithSummary("One function by its composite id <appName>-<fnId>.");
        functions.MapPost("/{slug}/cancel", CancelFunctionRunsAsync)
            .WithSummary("Cancel every unfinished run of a function created in [from, to) (both optional, ISO-8601).");

        var events = api.MapGroup("/events").WithTags("Events");
        events.MapGet("/", ListEventsAsync).WithSummary("List received events, newest first, with cursor paging.");
        events.MapGet("/{eventId}", GetEventAsync).WithSummary("One event by the id the event API returned.");
        events.MapGet("/{eventId}/runs", ListEventRunsAsync).WithSummary("The runs an event started.");

        var runs = api.MapGroup("/runs").WithTags("Runs");
        runs.MapGet("/", ListRunsAsync).WithSummary(
            "List runs, newest first: filter by status, function, app, creation time [from, to) and q (text in the event's data or the run's output); cursor paging.")
            .WithDescription($"q is case-insensitive and reads at most the {PlatformQueries.SearchBudget} newest runs matching the other filters per page: a page may be short with a nextCursor to search older runs.");
        runs.MapGet("/{runId}", GetRunAsync).WithSummary("One run with its steps, attempts and output.");
        runs.MapPost("/{runId}/cancel", CancelRunAsync).WithSummary("Cancel a run that has not finished.");
        runs.MapPost("/{runId}/rerun", RerunAsync)
            .WithSummary("Start a new run of the same function for the same event; with fromStepId, the steps before that step are reused, not executed again.");
        return app;
    }

    public sealed record SyncRequest(string? Url);

    public sealed record BulkCancelRequest(string? From, string? To);

    /// <summary><see cref="FromStepId"/>: the hashed id of a stored step of the run (the <c>stepId</c> of its steps).</summary>
    public sealed record RerunRequest(string? FromStepId);

    private static async Task<IResult> GetAppAsync(string appName, PlatformQueries q, CancellationToken ct) =>
        (IResult?)Input.Bad(appName) ?? (await q.GetAppAsync(appName, ct) is { } a ? TypedResults.Ok(a) : NotFound($"No app '{appName}'"));

    private static async Task<IResult> SyncAppAsync(SyncRequest? body, AppSyncClient client, AppNetworkPolicy networkPolicy, CancellationToken ct)
    {
        if (body?.Url is null || !AppSync.TryCleanUrl(body.Url, out _, out var error))
        {
            return Problem(400, "url: " + (body?.Url is null ? "required, an absolute http(s) URL" : "invalid"));
        }

        if (await networkPolicy.CheckAsync(body.Url, ct) is { } blocked)
        {
            return Problem(400, $"url: {blocked}");
        }

        var (status, text) = await client.RequestSyncAsync(body.Url, ct);
        return status is >= 200 and < 300
            ? Results.Json(new { status, response = text })
            : Problem(502, $"The app answered the sync request with HTTP {status}: {text}");
    }

    private static async Task<IResult> ListFunctionsAsync(string? app, bool? archived, PlatformQueries q, CancellationToken ct) =>
        (IResult?)Input.Bad(app) ?? TypedResults.Ok(await q.ListFunctionsAsync(app, archived ?? false, ct));

    private static async Task<IResult> GetFunctionAsync(string slug, PlatformQueries q, CancellationToken ct) =>
        (IResult?)Input.Bad(slug) ?? (await q.GetFunctionAsync(slug, ct) is { } f ? TypedResults.Ok(f) : NotFound($"No function '{slug}'"));

    private static async Task<IResult> CancelFunctionRunsAsync(string slug, BulkCancelRequest? body, RunCommands commands, CancellationToken ct)
    {
        if (Input.Bad(slug, body?.From, body?.To) is { } bad)
        {
            return bad;
        }

        if (!Input.TryTime(body?.From, "from", out var from, out var problem) || !Input.TryTime(body?.To, "to", out var to, out problem))
        {
            return problem!;
        }

        if (from >= to)
        {
            return Problem(400, "from: must be earlier than to");
        }

        return await commands.CancelFunctionRunsAsync(slug, from, to, ct) is { } cancelled
            ? TypedResults.Ok(new { function = slug, cancelled })
            : NotFound($"No function '{slug}'");
    }

    private static async Task<IResult> ListEventsAsync(string? name, string? cursor, string? limit, PlatformQueries q, CancellationToken ct)
    {
        if (Input.Bad(name, cursor) is { } bad)
        {
            return bad;
        }

        if (!Input.TryLimit(limit, out var n, out var problem))
        {
            return problem!;
        }

        return TypedResults.Ok(await q.ListEventsAsync(name, cursor, n, ct));
    }

    private static async Task<IResult> GetEventAsync(string eventId, PlatformQueries q, CancellationToken ct) =>
        (IResult?)Input.Bad(eventId) ?? (await q.GetEventAsync(eventId, ct) is { } e ? TypedResults.Ok(e) : NotFound($"No event '{eventId}'"));

    private static async Task<IResult> ListEventRunsAsync(string eventId, PlatformQueries q, CancellationToken ct)
    {
        if (Input.Bad(eventId) is { } bad)
        {
            return bad;
        }

        return await q.GetEventAsync(eventId, ct) is null
            ? NotFound($"No event '{eventId}'")
            : TypedResults.Ok(await q.ListRunsOfEventAsync(eventId, ct));
    }

    private static async Task<IResult> ListRunsAsync(
        string? status, string? function, string? app, string? from, string? to, string? q, string? cursor, string? limit, PlatformQueries queries, CancellationToken ct)
    {
        if (Input.Bad(status, function, app, from, to, q, cursor) is { } bad)
        {
            return bad;
        }

        List<string>? statuses = null;
        if (!string.IsNullOrWhiteSpace(status))
        {
            statuses = [];
            foreach (var s in status.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!RunStatuses.TryParse(s, out var parsed))
                {
                    return Problem(400, $"status: '{s}' is not a run status; use one or more of {string.Join(", ", Enum.GetNames<RunStatus>())}");
                }

                statuses.Add(parsed.ToString());
            }
        }

        if (!Input.TryTime(from, "from", out var fromTime, out var problem) || !Input.TryTime(to, "to", out var toTime, out problem))
        {
            return problem!;
        }

        if (!Input.TryLimit(limit, out var n, out problem))
        {
            return problem!;
        }

        var filter = new RunFilter(statuses, function, fromTime, toTime, cursor, n)
        {
            App = string.IsNullOrWhiteSpace(app) ? null : app,
            Search = string.IsNullOrWhiteSpace(q) ? null : q,
        };
        return TypedResults.Ok(await queries.ListRunsAsync(filter, ct));
    }

    private static async Task<IResult> GetRunAsync(string runId, PlatformQueries q, CancellationToken ct) =>
        (IResult?)Input.Bad(runId) ?? (await q.GetRunAsync(runId, ct) is { } r ? TypedResults.Ok(r) : NotFound($"No run '{runId}'"));

    private static async Task<IResult> CancelRunAsync(string runId, RunCommands commands, CancellationToken ct)
    {
        if (Input.Bad(runId) is { } bad)
        {
            return bad;
        }

        var (found, cancelled, status) = await commands.CancelAsync(runId, ct);
        if (!found)
        {
            return NotFound($"No run '{runId}'");
        }

        return cancelled
            ? TypedResults.Ok(new { id = runId, status })
            : Problem(409, $"Run '{runId}' has already finished ({status}); only a run that has not finished can be cancelled");
    }

    private static async Task<IResult> RerunAsync(string runId, RerunRequest? body, RunCommands commands, CancellationToken ct)
    {
        if (Input.Bad(runId, body?.FromStepId) is { } bad)
        {
            return bad;
        }

        if (body?.FromStepId is { } step && string.IsNullOrWhiteSpace(step))
        {
            return Problem(400, "fromStepId: a step id of the run, or leave it out to rerun every step");
        }

        var result = await commands.RerunAsync(runId, body?.FromStepId, ct);
        return result.Outcome switch
        {
            RerunOutcome.Created => TypedResults.Created($"/api/v1/runs/{result.RunId}",
                new { id = result.RunId, rerunOf = runId, rerunFromStep = body?.FromStepId }),
            RerunOutcome.RunNotFound => NotFound(result.Detail!),
            RerunOutcome.FunctionArchived => Problem(409, result.Detail!),
            _ => Problem(400, "fromStepId: " + result.Detail),
        };
    }

    internal static ProblemHttpResult NotFound(string detail) => Problem(404, detail);

    internal static ProblemHttpResult Problem(int status, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status);

    /// <summary>Checks on raw input before it reaches PostgreSQL (which cannot hold NUL characters).</summary>
    internal static class Input
    {
        public static ProblemHttpResult? Bad(params string?[] values)
        {
            foreach (var v in values)
            {
                if (v is null)
                {
                    continue;
                }

                if (v.Contains('\0'))
                {
                    return Problem(400, "A parameter contains a NUL character");
                }

                if (v.Length > 512)
                {
                    return Problem(400, "A parameter is longer than 512 characters");
                }
            }

            return null;
        }

        public static bool TryLimit(string? text, out int limit, out ProblemHttpResult? problem)
        {
            problem = null;
            limit = 50;
            if (text is null)
            {
                return true;
            }

            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > PlatformQueries.MaxPageSize)
            {
                problem = Problem(400, $"limit: expected an integer from 1 to {PlatformQueries.MaxPageSize}");
                return false;
            }

            return true;
        }

        public static bool TryTime(string? text, string name, out DateTimeOffset? time, out ProblemHttpResult? problem)
        {
            problem = null;
            time = null;
            if (text is null)
            {
                return true;
            }

            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
            {
                time = t;
                return true;
            }

            problem = Problem(400, $"{name}: expected an ISO-8601 time such as 2026-11-28T09:00:00Z");
            return false;
        }
    }
}
