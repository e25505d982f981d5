using System.Text;
using System.Text.Json.Nodes;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;

namespace Platform.Tests.Executor;

/// <summary>
/// The platform's side of the golden files the SDK is checked against (<c>tests/FunctionSdk.Tests/Golden</c>, the
/// request/reply pairs recorded against the <c>inngest</c> npm SDK 4.24.0): every recorded reply goes through the
/// pure <see cref="CallResponseParser"/> and <see cref="RunStateMachine"/> in the state its request describes, and
/// what the platform would do must agree with the recording: a 200 completes the run with the body, a final error
/// fails it with the reply's error, a retriable one schedules the next attempt, and every step output the platform
/// stores (a step's data or error, an elapsed sleep, a timed-out wait) is the value a later recorded request sends
/// for that step, byte for byte as JSON.
/// </summary>
public sealed class GoldenReplayTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 4, 0, 0, TimeSpan.Zero);

    public static TheoryData<string> Scenarios() => new(ScenarioNames());

    [Fact]
    public void Scenarios_FoundNextToTheSdkTests() =>
        Assert.True(ScenarioNames().Count >= 13, $"expected the 13 golden scenarios in {GoldenFolder()}");

    private static List<string> ScenarioNames() => Directory.GetFiles(GoldenFolder(), "*.json")
        .Where(f => !f.EndsWith(".sent.json", StringComparison.Ordinal))
        .Select(f => Path.GetFileNameWithoutExtension(f)!)
        .Order(StringComparer.Ordinal)
        .ToList();

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void RecordedReplies_PlatformAgreesWithTheRecording(string scenario)
    {
        var calls = JsonNode.Parse(File.ReadAllText(Path.Combine(GoldenFolder(), scenario + ".json")))!["calls"]!.AsArray()
            .Select(c => c!).ToList();
        var stored = new Dictionary<string, (string Json, WorkKind Kind)>(StringComparer.Ordinal);
        var compared = 0;
        for (var i = 0; i < calls.Count; i++)
        {
            var where = $"{scenario} call {i + 1}";
            var request = calls[i]["request"]!;
            var ctx = request["body"]!["ctx"]!;
            var steps = request["body"]!["steps"]!.AsObject();

            // What the platform stored before must be what the recorded request sends (values from outside the run,
            // a matched event or an invoked run's output, replace a wait's or an invoke's timeout value).
            foreach (var (id, value) in steps)
            {
                if (stored.TryGetValue(id, out var platform) &&
                    !(platform.Kind is WorkKind.Wait or WorkKind.Invoke && value is not null))
                {
                    Assert.True(JsonNode.DeepEquals(WithoutSerializedMark(JsonNode.Parse(platform.Json)), WithoutSerializedMark(value?.DeepClone())),
                        $"{where}: the platform stored {platform.Json} for step {id}, the request sends {value?.ToJsonString() ?? "null"}");
                    compared++;
                }
            }

            var stepId = request["query"]!["stepId"]!.GetValue<string>();
            var attempt = ctx["attempt"]!.GetValue<int>();
            var maxAttempts = ctx["max_attempts"]!.GetValue<int>();
            var called = stepId == WorkItem.DiscoveryStepId
                ? WorkItem.Discovery(s_t0, attempt)
                : new WorkItem { Kind = WorkKind.Step, StepId = stepId, Attempt = attempt, DueAt = s_t0 };
            var state = new RunState { Items = [called], DisableImmediateExecution = ctx["disable_immediate_execution"]!.GetValue<bool>() };
            var memoized = steps.Select(s => s.Key).ToHashSet(StringComparer.Ordinal);
            var response = calls[i]["response"]!;
            var status = response["status"]!.GetValue<int>();
            var outcome = CallResponseParser.Parse(Raw(response));
            var policy = new RunPolicy(maxAttempts, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), MaxSteps: 1000);
            var transition = RunStateMachine.Apply(state, called, outcome, memoized, policy, s_t0, s_t0, jitter: 1.0);

            switch (status)
            {
                case 200:
                    Assert.IsType<FunctionCompleted>(outcome);
                    Assert.Equal(RunStatus.Completed, transition.Completion?.Status);
                    Assert.True(JsonNode.DeepEquals(JsonNode.Parse(transition.Completion!.OutputJson!), response["body"]),
                        $"{where}: output {transition.Completion.OutputJson}, the SDK returned {response["body"]!.ToJsonString()}");
                    break;
                case 206:
                    var ops = Assert.IsType<OpsReturned>(outcome).Ops;
                    Assert.Equal(response["body"]!.AsArray().Select(o => o!["id"]!.GetValue<string>()), ops.Select(o => o.Id));
                    CheckOps(where, called, response, transition, stored);
                    break;
                default:
                    var failed = Assert.IsType<CallFailed>(outcome);
                    var noRetry = response["headers"]!["x-inngest-no-retry"]?.GetValue<string>() == "true";
                    Assert.Equal(noRetry, failed.Final);
                    if (noRetry || attempt + 1 >= maxAttempts)
                    {
                        Assert.Equal(RunStatus.Failed, transition.Completion?.Status);
                        var error = JsonNode.Parse(transition.Completion!.ErrorJson!)!;
                        Assert.Equal(
                            (response["body"]!["name"]!.GetValue<string>(), response["body"]!["message"]!.GetValue<string>()),
                            (error["name"]!.GetValue<string>(), error["message"]!.GetValue<string>()));
                    }
                    else
                    {
                        Assert.Null(transition.Completion);
                        var retry = Assert.Single(transition.State.Items);
                        Assert.Equal((WorkKind.Discovery, attempt + 1), (retry.Kind, retry.Attempt));
                        Assert.True(retry.DueAt > s_t0, $"{where}: the retry is due at once");
                    }

                    break;
            }
        }

        if (scenario is "steps" or "parallel" or "repeat" or "sleep" or "send-event" or "step-error" or "wait-for-event")
        {
            Assert.True(compared > 0, $"{scenario}: no stored step output was compared with a recorded request");
        }
    }

    /// <summary>Each op's effect: stored outputs, planned steps, timers and waits, retries.</summary>
    private static void CheckOps(string where, WorkItem called, JsonNode response, Transition transition, Dictionary<string, (string Json, WorkKind Kind)> stored)
    {
        foreach (var memo in transition.Memos)
        {
            stored[memo.StepId] = (memo.OutputJson, WorkKind.Step);
        }

        foreach (var op in response["body"]!.AsArray().Select(o => o!))
        {
            var id = op["id"]!.GetValue<string>();
            switch (op["op"]!.GetValue<string>())
            {
                case "StepRun":
                    var memo = Assert.Single(transition.Memos, m => m.StepId == id);
                    Assert.True(JsonNode.DeepEquals(JsonNode.Parse(memo.OutputJson)!["data"], op["data"]),
                        $"{where}: stored {memo.OutputJson} for {op["data"]?.ToJsonString()}");
                    break;
                case "StepFailed":
                    var failed = JsonNode.Parse(Assert.Single(transition.Memos, m => m.StepId == id).OutputJson)!["error"]!;
                    Assert.Equal(op["error"]!["message"]!.GetValue<string>(), failed["message"]!.GetValue<string>());
                    break;
                case "StepError":
                    // Not stored: the call that ran the step is made again, its attempt logged under the step.
                    Assert.DoesNotContain(transition.Memos, m => m.StepId == id);
                    Assert.Contains(transition.Attempts, a => a.StepId == id && a.Attempt == called.Attempt);
                    var retry = Assert.Single(transition.State.Items, item => item.StepId == called.StepId);
                    Assert.Equal(called.Attempt + 1, retry.Attempt);
                    if (response["headers"]!["retry-after"]?.GetValue<string>() is { } seconds)
                    {
                        Assert.Equal(s_t0.AddSeconds(int.Parse(seconds, System.Globalization.CultureInfo.InvariantCulture)), retry.DueAt);
                    }

                    break;
                case "StepPlanned":
                    Assert.Contains(transition.State.Items, item => item.Kind == WorkKind.Step && item.StepId == id);
                    break;
                case "Sleep":
                case "WaitForEvent":
                case "InvokeFunction":
                    var pending = Assert.Single(transition.State.Items, item => item.StepId == id);
                    Assert.True(pending.DueAt > s_t0, $"{where}: {op["op"]} {id} is due at once");
                    if (pending.Kind != WorkKind.Sleep)
                    {
                        Assert.Contains(transition.NewWaits, w => w.StepId == id);
                    }

                    // The timer fires: what the platform stores then is what the next request sends.
                    var fired = RunStateMachine.Resolve(transition.State, [pending], new HashSet<string>(StringComparer.Ordinal), pending.DueAt);
                    stored[id] = (Assert.Single(fired.Memos).OutputJson, pending.Kind);
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>
    /// The recorded requests were written by the probe script, which leaves the JS serializer's
    /// <c>__serialized</c> mark out of a stored error; the platform keeps the error as the SDK sent it. The SDK
    /// reads both the same, so the mark is not compared.
    /// </summary>
    private static JsonNode? WithoutSerializedMark(JsonNode? memo)
    {
        if (memo?["error"] is JsonObject error)
        {
            error.Remove("__serialized");
        }

        return memo;
    }

    private static RawCallResponse Raw(JsonNode response)
    {
        var headers = response["headers"]!.AsObject();
        string? Header(string name) => headers[name]?.GetValue<string>();
        return new RawCallResponse(
            response["status"]!.GetValue<int>(),
            Header("content-type"),
            HasSdkHeader: Header("x-inngest-sdk") is not null,
            Header("x-inngest-no-retry"),
            Header("retry-after"),
            Encoding.UTF8.GetBytes(response["body"]!.ToJsonString()),
            BodyTooLarge: false);
    }

    private static string GoldenFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var golden = Path.Combine(dir.FullName, "tests", "FunctionSdk.Tests", "Golden");
            if (Directory.Exists(golden))
            {
                return golden;
            }
        }

        throw new DirectoryNotFoundException($"tests/FunctionSdk.Tests/Golden above {AppContext.BaseDirectory}");
    }
}
