namespace FunctionSdk;

/// <summary>The platform's ids for sent events, one per event, in order.</summary>
/// <param name="Ids">The ids.</param>
public sealed record SendEventsResult(IReadOnlyList<string> Ids);
