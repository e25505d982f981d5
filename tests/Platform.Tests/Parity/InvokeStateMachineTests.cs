using System.Text.Json;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;
using Platform.Tests.Executor;
using static Platform.Tests.Unit.Replies;

namespace Platform.Tests.Parity;

/// <summary>The pure side of <c>step.invoke</c>: the state machine's invoke item, its timeout, and the invoked run's event.</summary>
public sealed class InvokeStateMachineTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private static readonly RunPolicy s_policy = new(3, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), 100);

    private static Op Invoke(string id, string optsJson) =>
        new(id, OpNames.InvokeFunction, "call-child", "call-child", Json(optsJson), "null", null);

    private static Transition Apply(params Op[] ops) =>
        RunStateMachine.Apply(RunState.Start(s_t0), WorkItem.Discovery(s_t0), Ops(ops), Memoized(), s_policy, s_t0, s_t0, 0);

    [Fact]
    public void Apply_InvokeWithTimeout_WaitsUntilTheTimeoutAndCarriesThePayloadOnlyToTheCommit()
    {
        var t = Apply(Invoke("i1", """{"function_id":"app-child","payload":{"data":{"x":21}},"timeout":"10m"}"""));

        var item = Assert.Single(t.State.Items);
        Assert.Equal((WorkKind.Invoke, "i1", "app-child", s_t0.AddMinutes(10)), (item.Kind, item.StepId, item.Function, item.DueAt));
        Assert.Null(item.Payload);
        var registered = Assert.Single(t.NewWaits);
        JsonAssert.Equal("""{"data":{"x":21}}""", registered.Payload!);
        Assert.Empty(t.Memos);
        Assert.Null(t.Completion);
        Assert.Equal(new SuspendDecision(s_t0.AddMinutes(10), RunStatus.Waiting), RunStateMachine.Next(t.State, Memoized(), s_t0));
    }

    [Fact]
    public void Apply_InvokeWithoutTimeout_WaitsOneYear()
    {
        var t = Apply(Invoke("i1", """{"function_id":"app-child","payload":{"data":{}}}"""));

        Assert.Equal(s_t0.AddYears(1), Assert.Single(t.State.Items).DueAt);
    }

    [Theory]
    [InlineData("""{"payload":{"data":{}}}""", "opts.function_id")]
    [InlineData("""{"function_id":"app-child","payload":{"data":[1]}}""", "opts.payload.data")]
    [InlineData("""{"function_id":"app-child","payload":"x"}""", "opts.payload")]
    [InlineData("""{"function_id":"app-child","timeout":"soon"}""", "opts.timeout")]
    [InlineData("""{"function_id":"app-child","timeout":"400d"}""", "opts.timeout")]
    public void Apply_InvalidInvoke_FailsTheStepAndDiscoversAgain(string optsJson, string field)
    {
        var t = Apply(Invoke("i1", optsJson));

        var memo = Assert.Single(t.Memos);
        Assert.Equal(("i1", OpNames.StepFailed), (memo.StepId, memo.Op));
        using var doc = JsonDocument.Parse(memo.OutputJson);
        Assert.Equal("InvalidInvokeError", doc.RootElement.GetProperty("error").GetProperty("name").GetString());
        Assert.Contains(field, doc.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(WorkKind.Discovery, Assert.Single(t.State.Items).Kind);
        Assert.Empty(t.NewWaits);
    }

    [Fact]
    public void Apply_InvokeAlreadyPending_IsNotRegisteredTwice()
    {
        var first = Apply(Invoke("i1", """{"function_id":"app-child"}"""));
        var state = first.State with { Items = [.. first.State.Items, WorkItem.Discovery(s_t0)] };

        var again = RunStateMachine.Apply(state, WorkItem.Discovery(s_t0), Ops(Invoke("i1", """{"function_id":"app-child"}""")), Memoized(), s_policy, s_t0, s_t0, 0);

        Assert.Empty(again.NewWaits);
        Assert.Single(again.State.Items, i => i.Kind == WorkKind.Invoke);
    }

    [Fact]
    public void Resolve_InvokeTimedOut_StoresTheTimeoutErrorAndDiscovers()
    {
        var t = Apply(Invoke("i1", """{"function_id":"app-child","timeout":"1s"}"""));
        var now = s_t0.AddSeconds(1);
        var resolve = Assert.IsType<ResolveDecision>(RunStateMachine.Next(t.State, Memoized(), now));

        var resolved = RunStateMachine.Resolve(t.State, resolve.Items, Memoized(), now);

        var memo = Assert.Single(resolved.Memos);
        Assert.Equal(("i1", OpNames.InvokeFunction), (memo.StepId, memo.Op));
        JsonAssert.Equal("""{"error":{"name":"InngestInvokeTimeoutError","message":"Timed out waiting for invoked function to complete"}}""", memo.OutputJson);
        Assert.Equal(WorkItem.Discovery(now), Assert.Single(resolved.State.Items));
    }

    [Fact]
    public void Resolve_InvokedRunEndedFirst_WritesNothingAndDiscovers()
    {
        var t = Apply(Invoke("i1", """{"function_id":"app-child","timeout":"1h"}"""));
        var resolve = Assert.IsType<ResolveDecision>(RunStateMachine.Next(t.State, Memoized("i1"), s_t0));

        var resolved = RunStateMachine.Resolve(t.State, resolve.Items, Memoized("i1"), s_t0);

        Assert.Empty(resolved.Memos);
        Assert.Equal(WorkItem.Discovery(s_t0), Assert.Single(resolved.State.Items));
    }

    [Fact]
    public void InvokeTargetMissing_StoresCouldNotFindFunctionAndDiscovers()
    {
        var t = Apply(Invoke("i1", """{"function_id":"app-nope"}"""));

        var missing = RunStateMachine.InvokeTargetMissing(t, Assert.Single(t.NewWaits), s_t0);

        var memo = Assert.Single(missing.Memos);
        Assert.Equal(("i1", OpNames.InvokeFunction), (memo.StepId, memo.Op));
        JsonAssert.Equal("""{"error":{"name":"Error","message":"could not find function with ID: app-nope"}}""", memo.OutputJson);
        Assert.Empty(missing.NewWaits);
        Assert.Equal(WorkItem.Discovery(s_t0), Assert.Single(missing.State.Items));
    }

    [Fact]
    public void ChildEvent_Payload_DataPlusInngestBlockUserAndVersion()
    {
        var expiry = s_t0.AddMinutes(10);

        var (data, user, v) = Invocation.ChildEvent(
            """{"data":{"x":21,"_inngest":{"fn_id":"forged"}},"user":{"id":"u1"},"v":"2"}""",
            "app-child", "RUN1.abc", "app-uuid", "app-parent", expiry, "call-child");

        JsonAssert.Equal($$$"""
            {"x":21,"_inngest":{"fn_id":"app-child","correlation_id":"RUN1.abc","source_app_id":"app-uuid",
             "source_fn_id":"app-parent","source_fn_v":0,"expire":{{{expiry.ToUnixTimeMilliseconds()}}},"name":"call-child"}}
            """, data);
        JsonAssert.Equal("""{"id":"u1"}""", user!);
        Assert.Equal("2", v);
    }

    [Fact]
    public void ChildEvent_NoPayload_OnlyTheInngestBlock()
    {
        var (data, user, v) = Invocation.ChildEvent(null, "app-child", "RUN1.abc", "a", "app-parent", s_t0, null);

        using var doc = JsonDocument.Parse(data);
        Assert.Equal(["_inngest"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Null(user);
        Assert.Null(v);
    }
}
