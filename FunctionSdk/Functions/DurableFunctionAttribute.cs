namespace FunctionSdk;

/// <summary>Declares a class implementing <see cref="IDurableFunction{TEvent}"/> as a durable function.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class DurableFunctionAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="id">
    /// The function id, unique in the app and stable across deployments (runs refer to it); the platform
    /// knows the function as <c>{AppId}-{id}</c>.
    /// </param>
    public DurableFunctionAttribute(string id)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        Id = id;
    }

    /// <summary>The function id.</summary>
    public string Id { get; }

    /// <summary>A display name; the id when not set.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// How many times a failing step (or the function itself) is retried; 0 means one attempt only. A negative
    /// value (the default) leaves the choice to the platform (usually 4 retries).
    /// </summary>
    public int Retries { get; set; } = -1;
}
