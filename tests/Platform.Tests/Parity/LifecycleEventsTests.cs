using System.Text.Json;
using Platform.Executor.Runs;
using Platform.Tests.Executor;

namespace Platform.Tests.Parity;

/// <summary>The pure choice and shape of the lifecycle events of an ended run.</summary>
public sealed class LifecycleEventsTests
{
    private const string Trigger = """{"name":"app/x","data":{"k":1},"id":"E1","ts":5,"user":{}}""";

    private static EndedRun Ended(RunStatus status, string? output = null, string? error = null, string triggerName = "app/x", string triggerData = """{"k":1}""") =>
        new("RUN1", "app-fn", status, output, error, triggerName, triggerData, Trigger);

    [Fact]
    public void For_Completed_FinishedWithResultOnly()
    {
        var e = Assert.Single(LifecycleEvents.For(Ended(RunStatus.Completed, output: """{"ok":true}"""), 42));

        Assert.Equal(("inngest/function.finished", (string?)null, 42L), (e.Name, e.Id, e.Ts));
        JsonAssert.Equal($$$"""{"function_id":"app-fn","run_id":"RUN1","event":{{{Trigger}}},"events":[{{{Trigger}}}],"result":{"ok":true}}""", e.DataJson);
    }

    [Fact]
    public void For_Failed_FinishedAndFailedWithTheRunIdAsEventId()
    {
        var events = LifecycleEvents.For(Ended(RunStatus.Failed, error: """{"name":"Error","message":"x"}"""), 42);

        Assert.Equal(["inngest/function.finished", "inngest/function.failed"], events.Select(e => e.Name));
        Assert.Equal("RUN1", events[1].Id);
        Assert.All(events, e => Assert.Equal("x", JsonDocument.Parse(e.DataJson).RootElement.GetProperty("error").GetProperty("message").GetString()));
    }

    [Fact]
    public void For_Cancelled_FinishedAndCancelledWithACancellationError()
    {
        var events = LifecycleEvents.For(Ended(RunStatus.Cancelled), 42);

        Assert.Equal(["inngest/function.finished", "inngest/function.cancelled"], events.Select(e => e.Name));
        Assert.All(events, e => Assert.Equal("FunctionCancelledError", JsonDocument.Parse(e.DataJson).RootElement.GetProperty("error").GetProperty("name").GetString()));
    }

    [Fact]
    public void For_InvokedRun_CarriesTheCorrelationId()
    {
        var e = Assert.Single(LifecycleEvents.For(
            Ended(RunStatus.Completed, output: "1", triggerName: "inngest/function.invoked", triggerData: """{"_inngest":{"correlation_id":"P.s1"}}"""), 42));

        Assert.Equal("P.s1", JsonDocument.Parse(e.DataJson).RootElement.GetProperty("correlation_id").GetString());
    }

    [Theory]
    [InlineData("inngest/function.failed")]
    [InlineData("inngest/function.finished")]
    [InlineData("inngest/function.cancelled")]
    public void For_RunStartedByALifecycleEvent_SendsNothing(string trigger)
    {
        Assert.Empty(LifecycleEvents.For(Ended(RunStatus.Failed, error: "{}", triggerName: trigger), 42));
    }

    [Fact]
    public void For_RunNotEnded_SendsNothing()
    {
        Assert.Empty(LifecycleEvents.For(Ended(RunStatus.Sleeping), 42));
    }
}
