using System.Text.Json.Nodes;
using Platform.Tests.Executor;

namespace Platform.Tests.Parity;

/// <summary>
/// The parity tests with WireMock apps share one in-process platform (their own instance of
/// <see cref="ExecutorPlatform"/>); each test registers its own apps with unique ids.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ParityCollection : ICollectionFixture<ExecutorPlatform>
{
    public const string Name = "Parity with WireMock apps";
}

/// <summary>Ops of a 206 reply that <see cref="AppOp"/> does not build, written as the JS SDK writes them.</summary>
public static class ParityOps
{
    /// <summary><c>step.invoke</c> (protocol.md §10.3): <c>opts = {payload:{data}, function_id, timeout?}</c>.</summary>
    public static string Invoke(string userStepId, string functionId, string dataJson, string? timeout)
    {
        var opts = new JsonObject
        {
            ["payload"] = new JsonObject { ["data"] = JsonNode.Parse(dataJson) },
            ["function_id"] = functionId,
        };
        if (timeout is not null)
        {
            opts["timeout"] = timeout;
        }

        return new JsonObject
        {
            ["displayName"] = userStepId,
            ["op"] = "InvokeFunction",
            ["id"] = AppOp.Id(userStepId),
            ["opts"] = opts,
            ["userland"] = new JsonObject { ["id"] = userStepId },
            ["data"] = null,
        }.ToJsonString();
    }
}
