using System.Text.Json;
using Platform.Dashboard.Runs;
using Platform.Executor.Queries;

namespace Platform.Dashboard.Tests.Views;

public sealed class TimelineTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Build_CompletedRun_PlacesStepsByTheirTimesOnTheRunsAxis()
    {
        var run = Run("Completed", ended: At(1000),
            Step("a", "Completed", started: At(100), completed: At(300)),
            Step("b", "Completed", started: At(300), completed: At(1000)));

        var timeline = Timeline.Build(run, now: At(5000));

        Assert.Equal(s_t0, timeline.Start);
        Assert.Equal(At(1000), timeline.End);
        Assert.Equal(["run", "a", "b"], timeline.Bars.Select(b => b.Key));
        Assert.Equal((0, 100), (timeline.Bars[0].Left, timeline.Bars[0].Width));
        Assert.Equal(10, timeline.Bars[1].Left, 6);
        Assert.Equal(20, timeline.Bars[1].Width, 6);
        Assert.Equal(30, timeline.Bars[2].Left, 6);
        Assert.Equal(70, timeline.Bars[2].Width, 6);
        Assert.All(timeline.Bars, b => Assert.False(b.Open));
        Assert.Equal(["0", "+250 ms", "+500 ms", "+750 ms", "+1 s"], timeline.Ticks.Select(t => t.Label));
    }

    [Fact]
    public void Build_SleepingRun_DrawsTheSleepFromThePreviousStepToNowAsOpen()
    {
        var run = Run("Sleeping", ended: null,
            Step("send", "Completed", started: At(0), completed: At(200)),
            Step("nap", "Sleeping", started: null, completed: null, due: At(86_400_000)));

        var timeline = Timeline.Build(run, now: At(1000));

        var nap = timeline.Bars[2];
        Assert.True(nap.Open);
        Assert.Equal(20, nap.Left, 6);
        Assert.Equal(80, nap.Width, 6);
        Assert.Contains("Sleeping until 2026-11-29 09:00:00.000 UTC", nap.Title);
        Assert.True(timeline.Bars[0].Open); // the run itself has not finished
    }

    [Fact]
    public void Build_InstantStep_StaysVisibleAtTheMinimumWidth()
    {
        var run = Run("Completed", ended: At(1000), Step("instant", "Completed", started: At(1000), completed: At(1000)));

        var bar = Timeline.Build(run, now: At(1000)).Bars[1];

        Assert.Equal(Timeline.MinWidth, bar.Width);
        Assert.Equal(100 - Timeline.MinWidth, bar.Left, 6); // pulled back inside the axis
    }

    [Fact]
    public void Build_RetriedStep_StartsAtItsFirstFailureAndMarksEachFailedAttempt()
    {
        var failed = new AttemptDto(0, JsonDocument.Parse("""{"name":"Error","message":"boom"}""").RootElement, At(400), At(500));
        var run = Run("Completed", ended: At(1000), Step("flaky", "Completed", started: At(500), completed: At(600), failed: [failed]));

        var bar = Timeline.Build(run, now: At(1000)).Bars[1];

        Assert.Equal(40, bar.Left, 6);
        var mark = Assert.Single(bar.Marks);
        Assert.Equal(40, mark.Left, 6);
        Assert.StartsWith("Attempt 1 failed", mark.Title);
    }

    [Fact]
    public void Build_StepTimesAfterTheRunsEnd_StretchTheAxis()
    {
        // Times come from the database's clock and the run's from another statement: never draw past 100 %.
        var run = Run("Completed", ended: At(900), Step("late", "Completed", started: At(800), completed: At(1000)));

        var timeline = Timeline.Build(run, now: At(900));

        Assert.Equal(At(1000), timeline.End);
        Assert.All(timeline.Bars, b => Assert.InRange(b.Left + b.Width, 0, 100.000001));
    }

    [Fact]
    public void Build_RerunWithCopiedSteps_DrawsOnlyTheStepsThisRunExecuted()
    {
        // A rerun from step c: a and b are the original's (times from an hour before), c ran in this run.
        var run = Run("Completed", ended: At(1000),
            Step("a", "Completed", started: At(-3_600_000), completed: At(-3_599_000)) with { CopiedFrom = "01JORIGINAL" },
            Step("b", "Completed", started: At(-3_599_000), completed: At(-3_598_000)) with { CopiedFrom = "01JORIGINAL" },
            Step("c", "Completed", started: At(500), completed: At(1000)));

        var timeline = Timeline.Build(run, now: At(1000));

        Assert.Equal(["run", "c"], timeline.Bars.Select(b => b.Key));
        Assert.Equal((s_t0, At(1000)), (timeline.Start, timeline.End));
        Assert.Equal(50, timeline.Bars[1].Left, 6);
        Assert.Equal(50, timeline.Bars[1].Width, 6);
    }

    private static DateTimeOffset At(int ms) => s_t0.AddMilliseconds(ms);

    private static StepDto Step(string name, string status, DateTimeOffset? started, DateTimeOffset? completed, DateTimeOffset? due = null,
        IReadOnlyList<AttemptDto>? failed = null) =>
        new(name, name, "StepRun", status, 1, null, null, started, completed, due, $"run:{name}", failed ?? []);

    private static RunDetailDto Run(string status, DateTimeOffset? ended, params StepDto[] steps)
    {
        var data = JsonDocument.Parse("{}").RootElement;
        var ev = new EventDto("01JEVENT", "01JEVENT", "test/event", data, 0, null, s_t0);
        return new RunDetailDto("01JRUN", status, "app-fn", "Fn", Guid.Empty, ev, null, null, s_t0, s_t0, ended, null, steps, []);
    }
}
