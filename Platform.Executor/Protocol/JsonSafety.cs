using System.Text.Json;

namespace Platform.Executor.Protocol;

/// <summary>
/// PostgreSQL's jsonb refuses the NUL character (<c>\u0000</c>) and unpaired surrogates. Finding them before
/// a write turns what would be a 500 into a clear 4xx (ingest) or a clear step failure (executor).
/// </summary>
public static class JsonSafety
{
    /// <summary>Returns a description of the first value PostgreSQL cannot store, or null if all is storable.</summary>
    public static string? FindUnstorable(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return CheckString(element);
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        // Like GetString, reading a key with an unpaired surrogate escape throws.
                        return "a string with an unpaired surrogate";
                    }

                    if (CheckName(name) is { } bad)
                    {
                        return bad;
                    }

                    if (FindUnstorable(property.Value) is { } inner)
                    {
                        return inner;
                    }
                }

                return null;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (FindUnstorable(item) is { } inner)
                    {
                        return inner;
                    }
                }

                return null;
            default:
                return null;
        }
    }

    /// <summary>Same check on raw JSON text; unparsable text is reported too.</summary>
    public static string? FindUnstorable(string json)
    {
        // Fast path: both problems need a \u escape in the text.
        if (!json.Contains("\\u", StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
            return FindUnstorable(doc.RootElement);
        }
        catch (JsonException ex)
        {
            return "invalid JSON: " + ex.Message;
        }
    }

    private static string? CheckString(JsonElement element)
    {
        string? s;
        try
        {
            s = element.GetString();
        }
        catch (InvalidOperationException)
        {
            return "a string with an unpaired surrogate";
        }

        return CheckName(s);
    }

    private static string? CheckName(string? s)
    {
        if (s is null)
        {
            return null;
        }

        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '\0')
            {
                return "a NUL character (\\u0000), which PostgreSQL cannot store";
            }

            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= s.Length || !char.IsLowSurrogate(s[i + 1]))
                {
                    return "a string with an unpaired surrogate";
                }

                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return "a string with an unpaired surrogate";
            }
        }

        return null;
    }
}
