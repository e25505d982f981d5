using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;
using Platform.Executor.Storage;

namespace Platform.Executor.Queries;

/// <summary>The read side shared by the REST API and the dashboard.</summary>
public sealed partial class PlatformQueries(IDbContextFactory<PlatformDbContext> contexts, PlatformDatabase database)
{
    public const int MaxPageSize = 200;

    public async Task<IReadOnlyList<AppDto>> ListAppsAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Apps.AsNoTracking().OrderBy(a => a.Name)
            .Select(a => new AppDto(a.Id, a.Name, a.Url, a.Sdk, a.Framework, a.AppVersion, a.CreatedAt, a.SyncedAt,
                db.Functions.Count(f => f.AppId == a.Id && f.ArchivedAt == null)))
            .ToListAsync(cancellationToken);
    }

    public async Task<AppDto?> GetAppAsync(string name, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Apps.AsNoTracking().Where(a => a.Name == name)
            .Select(a => new AppDto(a.Id, a.Name, a.Url, a.Sdk, a.Framework, a.AppVersion, a.CreatedAt, a.SyncedAt,
                db.Functions.Count(f => f.AppId == a.Id && f.ArchivedAt == null)))
            .FirstOrDefaultAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<FunctionDto>> ListFunctionsAsync(string? app, bool includeArchived, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = await (from f in db.Functions.AsNoTracking()
                          join a in db.Apps on f.AppId equals a.Id
                          where (app == null || a.Name == app) && (includeArchived || f.ArchivedAt == null)
                          orderby f.Slug
                          select new { f, AppName = a.Name }).ToListAsync(cancellationToken);
        return rows.Select(r => ToDto(r.f, r.AppName)).ToList();
    }

    public async Task<FunctionDto?> GetFunctionAsync(string slug, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await (from f in db.Functions.AsNoTracking()
                         join a in db.Apps on f.AppId equals a.Id
                         where f.Slug == slug
                         select new { f, AppName = a.Name }).FirstOrDefaultAsync(cancellationToken);
        return row is null ? null : ToDto(row.f, row.AppName);
    }

    public async Task<Page<EventDto>> ListEventsAsync(string? name, string? cursor, int limit, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.Events.AsNoTracking();
        if (name is not null)
        {
            query = query.Where(e => e.Name == name);
        }

        if (cursor is not null)
        {
            query = query.Where(e => string.Compare(e.Id, cursor) < 0);
        }

        var rows = await query.OrderByDescending(e => e.Id).Take(limit + 1).ToListAsync(cancellationToken);
        return PageOf(rows.Take(limit).Select(ToDto).ToList(), rows.Count > limit, e => e.Id);
    }

    public async Task<EventDto?> GetEventAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.Events.AsNoTracking().FirstOrDefaultAsync(e => e.Id == id, cancellationToken);
        return row is null ? null : ToDto(row);
    }

    public async Task<IReadOnlyList<RunSummaryDto>> ListRunsOfEventAsync(string eventId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await Summaries(db, db.Runs.AsNoTracking().Where(r => r.EventId == eventId).OrderByDescending(r => r.Id).Take(MaxPageSize))
            .ToListAsync(cancellationToken);
    }

    public async Task<RunDetailDto?> GetRunAsync(string runId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var run = await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, cancellationToken);
        if (run is null)
        {
            return null;
        }

        var function = await db.Functions.AsNoTracking().FirstAsync(f => f.Id == run.FunctionId, cancellationToken);
        var ev = await db.Events.AsNoTracking().FirstAsync(e => e.Id == run.EventId, cancellationToken);
        var steps = await db.Steps.AsNoTracking().Where(s => s.RunId == runId).OrderBy(s => s.Seq).ToListAsync(cancellationToken);
        var attempts = await db.Attempts.AsNoTracking().Where(a => a.RunId == runId).OrderBy(a => a.Id).ToListAsync(cancellationToken);
        var attemptsByStep = attempts.ToLookup(a => a.StepId);
        var state = RunState.FromJson(run.State);

        var stepDtos = new List<StepDto>();
        foreach (var s in steps)
        {
            JsonElement? output = null, error = null;
            var parsed = Parse(s.Output);
            // An invoke resolves to {"data":…} or {"error":…} like a step.
            if (parsed is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("error", out var err) && s.Op is OpNames.StepFailed or OpNames.InvokeFunction)
            {
                error = err.Clone();
            }
            else if (parsed is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty("data", out var data) && s.Op is OpNames.StepRun or OpNames.InvokeFunction)
            {
                output = data.Clone();
            }
            else
            {
                output = parsed;
            }

            // The user's step id (displayName) names a step; the op's name is not always it ("sendEvent", a sleep's duration).
            stepDtos.Add(new StepDto(s.StepId, s.DisplayName ?? s.Name, s.Op, error is not null ? "Failed" : "Completed", s.Attempts,
                output, error, s.StartedAt, s.CompletedAt, null, $"{runId}:{s.StepId}", Attempts(attemptsByStep[s.StepId]))
            {
                CopiedFrom = s.CopiedFromRunId,
            });
        }

        if (!Enum.TryParse<RunStatus>(run.Status, out var runStatus) || !runStatus.IsFinal())
        {
            foreach (var item in state.Items.Where(i => i.Kind != WorkKind.Discovery && steps.All(s => s.StepId != i.StepId)))
            {
                var status = item.Kind switch { WorkKind.Sleep => "Sleeping", WorkKind.Wait or WorkKind.Invoke => "Waiting", _ => "Running" };
                stepDtos.Add(new StepDto(item.StepId, item.DisplayName ?? item.Name ?? item.StepId, item.Kind switch
                {
                    WorkKind.Sleep => OpNames.Sleep,
                    WorkKind.Wait => OpNames.WaitForEvent,
                    WorkKind.Invoke => OpNames.InvokeFunction,
                    _ => OpNames.StepPlanned,
                }, status, item.Attempt, null, null, null, null, item.DueAt, $"{runId}:{item.StepId}", Attempts(attemptsByStep[item.StepId])));
            }
        }

        // Failed attempts of steps that never got a row yet show up under their step once it is stored; the rest
        // (discovery calls, i.e. errors outside any step) are the function's own attempts.
        var known = stepDtos.Select(s => s.StepId).ToHashSet();
        var functionAttempts = Attempts(attempts.Where(a => !known.Contains(a.StepId)));

        RerunFromStepDto? rerunFrom = null;
        if (run.RerunOfRunId is { } of && run.RerunFromStepId is { } fromStep)
        {
            var name = await db.Steps.AsNoTracking().Where(s => s.RunId == of && s.StepId == fromStep)
                .Select(s => s.DisplayName ?? s.Name).FirstOrDefaultAsync(cancellationToken);
            rerunFrom = new RerunFromStepDto(fromStep, name);
        }

        var reruns = await db.Runs.AsNoTracking().Where(r => r.RerunOfRunId == runId).OrderBy(r => r.Id).Select(r => r.Id).ToListAsync(cancellationToken);

        return new RunDetailDto(run.Id, run.Status, function.Slug, function.Name, function.Id, ToDto(ev),
            Parse(run.Output), Parse(run.Error), run.CreatedAt, run.StartedAt, run.EndedAt, run.NextWakeAt, stepDtos, functionAttempts)
        {
            RerunOf = run.RerunOfRunId,
            RerunFromStep = rerunFrom,
            Reruns = reruns,
        };
    }

    private static IReadOnlyList<AttemptDto> Attempts(IEnumerable<AttemptRecord> attempts) =>
        attempts.Select(a => new AttemptDto(a.Attempt, Parse(a.Error) ?? default, a.EndedAt, a.RetryAt)).ToList();

    private static IQueryable<RunSummaryDto> Summaries(PlatformDbContext db, IQueryable<RunRecord> runs) =>
        from r in runs
        join f in db.Functions on r.FunctionId equals f.Id
        join e in db.Events on r.EventId equals e.Id
        orderby r.Id descending
        select new RunSummaryDto(r.Id, r.Status, f.Slug, f.Name, e.Id, e.Name, r.CreatedAt, r.StartedAt, r.EndedAt);

    private static Page<T> PageOf<T>(List<T> items, bool more, Func<T, string> key) =>
        new(items, more && items.Count > 0 ? key(items[^1]) : null);

    private static FunctionDto ToDto(FunctionRecord f, string appName) =>
        new(f.Id, f.Slug, f.Name, appName, f.Url, f.Retries, Parse(f.Triggers) ?? default, Parse(f.Config) ?? default,
            f.CreatedAt, f.UpdatedAt, f.ArchivedAt is not null);

    private static EventDto ToDto(EventRecord e) => new(e.Id, e.EventId, e.Name, Parse(e.Data) ?? default, e.Ts, e.V, e.ReceivedAt);

    private static JsonElement? Parse(string? json)
    {
        if (json is null)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
