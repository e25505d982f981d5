using System.Text.Json;
using Platform.Executor.Protocol;
using Platform.Executor.Queries;
using Platform.Executor.Runs;

namespace Platform.Dashboard.Runs;

/// <summary>An error as the SDK serializes it (<c>{name, message, stack}</c>), split for display.</summary>
public sealed record ErrorSummary(string Name, string Message, string? Stack)
{
    /// <summary>Reads the usual fields; other shapes (a string, an object without them) are shown as they are.</summary>
    public static ErrorSummary? From(JsonElement? error)
    {
        if (error is not { } e || e.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            return null;
        }

        if (e.ValueKind == JsonValueKind.String)
        {
            return new ErrorSummary("Error", e.GetString() ?? "", null);
        }

        if (e.ValueKind != JsonValueKind.Object)
        {
            return new ErrorSummary("Error", e.GetRawText(), null);
        }

        // A stored step failure is {"error": {...}}; unwrap it.
        if (e.TryGetProperty("error", out var inner) && inner.ValueKind == JsonValueKind.Object && !e.TryGetProperty("message", out _))
        {
            return From(inner);
        }

        string? Text(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return new ErrorSummary(Text("name") ?? "Error", Text("message") ?? e.GetRawText(), string.IsNullOrWhiteSpace(Text("stack")) ? null : Text("stack"));
    }
}

/// <summary>A step as the run page lists it.</summary>
public sealed record StepView(int Number, StepDto Step, string Kind, string? Duration, ErrorSummary? Error)
{
    /// <summary>The step verb users wrote, from the op that stored the step.</summary>
    public static string KindOf(string op) => op switch
    {
        OpNames.Sleep => "sleep",
        OpNames.WaitForEvent => "waitForEvent",
        OpNames.InvokeFunction => "invoke",
        _ => "run",
    };
}

/// <summary>What the run page shows for a run at a moment: facts, steps in order, the timeline, the result.</summary>
public sealed record RunDetailView(RunDetailDto Run, bool Finished, string Duration, IReadOnlyList<StepView> Steps, Timeline Timeline,
    ErrorSummary? Error)
{
    public bool CanCancel => !Finished;

    public static RunDetailView Build(RunDetailDto run, DateTimeOffset now)
    {
        var finished = RunStatuses.TryParse(run.Status, out var status) && status.IsFinal();
        var steps = run.Steps.Select((s, i) => new StepView(
            i + 1,
            s,
            StepView.KindOf(s.Op),
            s.CompletedAt is { } done && s.StartedAt is { } started ? Shared.Format.Duration(done - started) : null,
            ErrorSummary.From(s.Error))).ToList();

        return new RunDetailView(
            run,
            finished,
            Shared.Format.RunDuration(run.CreatedAt, run.StartedAt, run.EndedAt, now),
            steps,
            Timeline.Build(run, now),
            ErrorSummary.From(run.Error));
    }
}
