using Platform.Executor.Queries;
using Platform.Executor.Runs;

namespace Platform.Dashboard.Runs;

/// <summary>A bar of the timeline: where it starts and how wide it is, in percent of the run's time axis.</summary>
/// <param name="Open">Not finished: the bar runs to the right edge (now) and is drawn hatched.</param>
public sealed record TimelineBar(string Key, string Label, string Status, double Left, double Width, bool Open, string Title,
    IReadOnlyList<TimelineMark> Marks);

/// <summary>A failed attempt on a bar, at the time it failed.</summary>
public sealed record TimelineMark(double Left, string Title);

/// <summary>A labelled point of the time axis, e.g. <c>+1.5 s</c> at 50 %.</summary>
public sealed record TimelineTick(double Left, string Label);

/// <summary>
/// The run drawn on a time axis from its creation to its end (or now): one bar for the run, one per step, failed
/// attempts as marks. Pure: the run and the time in, positions out, so it is tested without rendering.
/// </summary>
public sealed record Timeline(DateTimeOffset Start, DateTimeOffset End, IReadOnlyList<TimelineBar> Bars, IReadOnlyList<TimelineTick> Ticks)
{
    /// <summary>Narrowest bar drawn, in percent, so an instant step stays visible.</summary>
    public const double MinWidth = 0.6;

    public TimeSpan Span => End - Start;

    public static Timeline Build(RunDetailDto run, DateTimeOffset now)
    {
        var final = RunStatuses.TryParse(run.Status, out var status) && status.IsFinal();
        var start = run.CreatedAt;

        // The axis ends with the run, or now; stored times come from the database's clock, so include them too.
        var end = final ? run.EndedAt ?? now : now;
        foreach (var s in run.Steps.Where(s => s.CopiedFrom is null))
        {
            end = Max(end, s.CompletedAt);
            end = Max(end, s.StartedAt);
        }

        if (end <= start)
        {
            end = start + TimeSpan.FromMilliseconds(1);
        }

        var span = (end - start).TotalMilliseconds;
        double At(DateTimeOffset t) => Math.Clamp((t - start).TotalMilliseconds / span * 100, 0, 100);

        TimelineBar Bar(string key, string label, string barStatus, DateTimeOffset from, DateTimeOffset to, bool open, string title,
            IEnumerable<AttemptDto> failed)
        {
            var left = At(from);
            var width = Math.Max(At(to) - left, MinWidth);
            if (left + width > 100)
            {
                left = Math.Max(0, 100 - width);
            }

            return new TimelineBar(key, label, barStatus, left, width, open, title,
                failed.Select(a => new TimelineMark(At(a.At), $"Attempt {a.Attempt + 1} failed at {Shared.Format.Time(a.At)}")).ToList());
        }

        var runFrom = run.StartedAt ?? run.CreatedAt;
        var bars = new List<TimelineBar>
        {
            Bar("run", "Run", run.Status, runFrom, final ? run.EndedAt ?? end : end, !final,
                $"{run.Status} · {Shared.Format.Duration((final ? run.EndedAt ?? end : end) - runFrom)}", run.FunctionAttempts),
        };

        // A step without a start time (a sleep, a wait) began when the step before it ended.
        var previousEnd = runFrom;
        foreach (var step in run.Steps)
        {
            if (step.CopiedFrom is not null)
            {
                continue; // A rerun reused it: it ran in another run, not on this run's axis.
            }

            var from = step.StartedAt ?? previousEnd;
            if (step.FailedAttempts.Count > 0)
            {
                from = Min(from, step.FailedAttempts.Min(a => a.At));
            }

            var open = step.CompletedAt is null;
            var to = step.CompletedAt ?? (final ? from : end);
            var title = open
                ? step.DueAt is { } due ? $"{step.Status} until {Shared.Format.Time(due)}" : step.Status
                : $"{step.Status} · {Shared.Format.Duration(to - from)}";
            bars.Add(Bar(step.StepId, step.Name, step.Status, from, to, open && !final, title, step.FailedAttempts));
            if (step.CompletedAt is { } completed)
            {
                previousEnd = completed;
            }
        }

        var ticks = new List<TimelineTick>();
        for (var i = 0; i <= 4; i++)
        {
            ticks.Add(new TimelineTick(i * 25, i == 0 ? "0" : "+" + Shared.Format.Duration(TimeSpan.FromMilliseconds(span * i / 4))));
        }

        return new Timeline(start, end, bars, ticks);
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset? b) => b is { } v && v > a ? v : a;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => b < a ? b : a;
}
