using System.Text.Json;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;

namespace Platform.Tests.Unit;

/// <summary>Builders for what an app answers, as the parser hands it to the state machine (protocol.md §10.3).</summary>
internal static class Replies
{
    public const string Boom = """{"name":"Error","message":"boom","stack":"Error: boom\n    at step","__serialized":true}""";

    /// <summary><c>sha1("complete")</c>, the id of every <c>RunComplete</c>.</summary>
    public const string CompleteId = "0737c22d3bfae812339732d14d8c7dbd6dc4e09c";

    public static OpsReturned Ops(params Op[] ops) => new(ops, NoRetry: false, RetryAfter: null);

    public static OpsReturned Ops(bool noRetry, RetryAfter? retryAfter, params Op[] ops) => new(ops, noRetry, retryAfter);

    public static Op StepRun(string id, string? dataJson = "null", string? name = null) =>
        new(id, OpNames.StepRun, name ?? id, name ?? id, Json("{}"), dataJson, null);

    public static Op StepError(string id, string? errorJson = Boom) =>
        new(id, OpNames.StepError, id, id, Json("{}"), "null", errorJson);

    public static Op StepFailed(string id, string? errorJson = Boom, string? dataJson = null) =>
        new(id, OpNames.StepFailed, id, id, Json("{}"), dataJson, errorJson);

    public static Op Planned(string id) => new(id, OpNames.StepPlanned, id, id, Json("{}"), "null", null);

    public static Op Sleep(string id, string? name, string optsJson = "{}", string? displayName = "nap") =>
        new(id, OpNames.Sleep, name, displayName, Json(optsJson), "null", null);

    public static Op Wait(string id, string? eventName, string optsJson, string? displayName = "wait-approve") =>
        new(id, OpNames.WaitForEvent, eventName, displayName, Json(optsJson), "null", null);

    public static Op RunComplete(string? dataJson) => new(CompleteId, OpNames.RunComplete, null, null, null, dataJson, null);

    public static Op DiscoveryRequest() => new("", OpNames.DiscoveryRequest, null, null, null, null, null);

    public static Op Invoke(string id, string optsJson = """{"function_id":"app-child","payload":{"data":{}},"timeout":"30s"}""") =>
        new(id, OpNames.InvokeFunction, null, "call-child", Json(optsJson), "null", null);

    public static Op Other(string opName, string id) => new(id, opName, id, id, Json("{}"), "null", null);

    public static JsonElement Json(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    public static WorkItem Step(string id, DateTimeOffset dueAt, int attempt = 0) =>
        new() { Kind = WorkKind.Step, StepId = id, Name = id, DueAt = dueAt, Attempt = attempt };

    public static WorkItem SleepItem(string id, DateTimeOffset dueAt) =>
        new() { Kind = WorkKind.Sleep, StepId = id, Name = "nap", DueAt = dueAt };

    public static WorkItem WaitItem(string id, DateTimeOffset dueAt, string eventName = "test/approve") =>
        new() { Kind = WorkKind.Wait, StepId = id, Name = eventName, DueAt = dueAt, Event = eventName };

    public static RunState State(params WorkItem[] items) => new() { Items = items };

    public static HashSet<string> Memoized(params string[] ids) => new(ids, StringComparer.Ordinal);
}
