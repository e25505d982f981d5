namespace FunctionSdk.Testing;

/// <summary>Where a run of the <see cref="DurableTestHost"/> stands (the platform's run states, minus Cancelled).</summary>
public enum TestRunStatus
{
    /// <summary>The function has a call pending (a new run, a step to run, a retry).</summary>
    Running,

    /// <summary>The run waits for a durable sleep to elapse (only with <see cref="DurableTestHostBuilder.SkipSleeps"/> off).</summary>
    Sleeping,

    /// <summary>The run waits for an event, or for a function it invoked.</summary>
    Waiting,

    /// <summary>The function returned; see <see cref="TestRun.Output"/>.</summary>
    Completed,

    /// <summary>The function failed for good; see <see cref="TestRun.Error"/>.</summary>
    Failed,
}
