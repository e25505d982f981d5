namespace FunctionSdk.Functions;

/// <summary>The functions of this app, by id.</summary>
internal sealed class FunctionCatalog
{
    private readonly Dictionary<string, RegisteredFunction> _functions = new(StringComparer.Ordinal);

    public IReadOnlyCollection<RegisteredFunction> All => _functions.Values;

    public void Add(RegisteredFunction function)
    {
        if (!_functions.TryAdd(function.Id, function))
        {
            throw new InvalidOperationException($"A durable function with the id \"{function.Id}\" is already registered; function ids must be unique in an app.");
        }
    }

    /// <summary>Finds a function by its platform slug, <c>{appId}-{functionId}</c>.</summary>
    public RegisteredFunction? FindBySlug(string appId, string slug) =>
        slug.StartsWith(appId + "-", StringComparison.Ordinal) &&
        _functions.TryGetValue(slug[(appId.Length + 1)..], out var function)
            ? function
            : null;
}
