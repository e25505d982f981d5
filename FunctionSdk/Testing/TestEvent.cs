using System.Text.Json;

namespace FunctionSdk.Testing;

/// <summary>An event the <see cref="DurableTestHost"/> received: from the test, from app code, or from a step.</summary>
/// <param name="Id">The event id: the sender's id, or one the host made up.</param>
/// <param name="Name">The event name.</param>
/// <param name="Data">The event's <c>data</c> object.</param>
/// <param name="Timestamp">The event's <c>ts</c>: the sender's, or the host's clock when it was received.</param>
public sealed record TestEvent(string Id, string Name, JsonElement Data, DateTimeOffset Timestamp)
{
    /// <summary>The data read as <typeparamref name="T"/> (System.Text.Json, web defaults).</summary>
    /// <typeparam name="T">The type to read.</typeparam>
    /// <returns>The data.</returns>
    public T GetData<T>() => Data.Deserialize<T>(DurableTestHost.Json)!;
}
