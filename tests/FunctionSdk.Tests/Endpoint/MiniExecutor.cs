using System.Text;
using System.Text.Json.Nodes;

namespace FunctionSdk.Tests.Endpoint;

/// <summary>
/// A tiny stand-in for the platform's executor (protocol.md §12), driving one run over real HTTP: discovery,
/// immediate and planned steps, retries, stored errors, sleeps, waits and invokes, the stack, and the
/// parallel wait mode (the next discovery only once every planned step is done).
/// </summary>
internal sealed class MiniExecutor(HttpClient client, string url, string functionSlug)
{
    public List<string> Calls { get; } = [];

    /// <summary>What to store for a Sleep, WaitForEvent or InvokeFunction op.</summary>
    public Func<JsonObject, JsonNode?> Resolve { get; init; } = _ => null;

    public async Task<(int Status, JsonNode? Body)> RunAsync(JsonObject @event, string runId, int maxAttempts = 4)
    {
        var steps = new JsonObject();
        var stack = new List<string>();
        var queue = new Queue<(string StepId, int Attempt)>();
        queue.Enqueue(("step", 0));
        var disableImmediate = false;
        for (var call = 0; call < 100; call++)
        {
            var (stepId, attempt) = queue.Dequeue();
            var body = new JsonObject
            {
                ["ctx"] = new JsonObject
                {
                    ["attempt"] = attempt,
                    ["disable_immediate_execution"] = disableImmediate,
                    ["max_attempts"] = maxAttempts,
                    ["run_id"] = runId,
                    ["stack"] = new JsonObject { ["current"] = stack.Count, ["stack"] = new JsonArray(stack.Select(s => (JsonNode)s).ToArray()) },
                    ["use_api"] = false,
                },
                ["event"] = @event.DeepClone(),
                ["events"] = new JsonArray(@event.DeepClone()),
                ["steps"] = steps.DeepClone(),
                ["version"] = 2,
            };
            var response = await client.PostAsync(
                $"{url}?fnId={functionSlug}&stepId={stepId}", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            var status = (int)response.StatusCode;
            var reply = JsonNode.Parse(await response.Content.ReadAsStringAsync());
            Calls.Add($"{(stepId == "step" ? "discovery" : "step")}#{attempt} -> {status}");

            switch (status)
            {
                case 200:
                case 400:
                    return (status, reply);
                case 206:
                    var ops = reply!.AsArray().Select(o => o!.AsObject()).ToList();
                    if (ops.Count > 1)
                    {
                        disableImmediate = true;
                    }

                    foreach (var op in ops)
                    {
                        var id = op["id"]!.ToString();
                        Calls[^1] += $" {op["op"]}:{op["displayName"]}";
                        switch (op["op"]!.ToString())
                        {
                            case "StepRun":
                                Store(id, new JsonObject { ["data"] = op["data"]?.DeepClone() });
                                break;
                            case "StepFailed":
                                Store(id, new JsonObject { ["error"] = op["error"]!.DeepClone() });
                                break;
                            case "StepError":
                                queue.Enqueue((stepId, attempt + 1));
                                break;
                            case "StepPlanned":
                                queue.Enqueue((id, 0));
                                break;
                            case "Sleep":
                            case "WaitForEvent":
                                Store(id, Resolve(op));
                                break;
                            case "InvokeFunction":
                                Store(id, new JsonObject { ["data"] = Resolve(op) });
                                break;
                            default:
                                throw new InvalidOperationException($"Unexpected op {op.ToJsonString()}");
                        }
                    }

                    break;
                default:
                    if (attempt + 1 >= maxAttempts)
                    {
                        return (status, reply);
                    }

                    queue.Enqueue((stepId, attempt + 1));
                    break;
            }

            if (queue.Count == 0)
            {
                // Every planned step is done: discover what comes next, immediate execution allowed again.
                disableImmediate = false;
                queue.Enqueue(("step", 0));
            }
        }

        throw new InvalidOperationException("The run did not finish within 100 calls: " + string.Join(" | ", Calls));

        void Store(string id, JsonNode? value)
        {
            steps[id] = value;
            stack.Add(id);
        }
    }
}
