namespace Platform.Dashboard.Shared;

/// <summary>Values taken from a URL before they reach a query: PostgreSQL text cannot hold NUL, and ids are short.</summary>
public static class UrlValues
{
    public const int MaxLength = 512;

    /// <summary>The trimmed value, or null when blank, longer than <see cref="MaxLength"/> or holding a NUL character.</summary>
    public static string? Clean(string? value) =>
        string.IsNullOrWhiteSpace(value) || value.Length > MaxLength || value.Contains('\0') ? null : value.Trim();
}
