using System.Globalization;
using System.Text.Json;

namespace Platform.Executor.Protocol;

/// <summary>
/// PostgreSQL's jsonb refuses the NUL character (<c>\u0000</c>), unpaired surrogates and numbers beyond its
/// numeric type (<c>1e1000000</c>, <c>0e-20000</c>). Finding them before a write turns what would be a 500 into a
/// clear 4xx (ingest) or a clear step failure (executor). Numbers are also held to what a 64-bit float can
/// represent, as the SDKs (JavaScript, Go) read them: <c>1e400</c> would reach them as infinity.
/// </summary>
public static class JsonSafety
{
    /// <summary>Decimal places PostgreSQL's numeric keeps at most.</summary>
    private const int MaxScale = 16383;

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
                        return "a property name with an unpaired surrogate";
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
            case JsonValueKind.Number:
                return CheckNumber(element.GetRawText());
            default:
                return null;
        }
    }

    private static string? CheckNumber(string raw)
    {
        var e = raw.AsSpan().IndexOfAny('e', 'E');
        var mantissa = e < 0 ? raw.AsSpan() : raw.AsSpan(0, e);
        long exponent = 0;
        if (e >= 0 && (!long.TryParse(raw.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent)
            || exponent is > 100_000 or < -100_000))
        {
            return $"the number {Shorten(raw)}, whose exponent is out of range";
        }

        var value = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (!double.IsFinite(value))
        {
            return $"the number {Shorten(raw)}, larger than a 64-bit float can hold (about 1.8e308)";
        }

        if (value == 0 && mantissa.IndexOfAnyInRange('1', '9') >= 0)
        {
            return $"the number {Shorten(raw)}, smaller than a 64-bit float can hold (about 5e-324)";
        }

        // Written out without an exponent, as PostgreSQL stores it: at most 16,383 decimal places, and at most 400
        // more than were written (a non-zero double needs at most ~324; "0e-20000" would be 20,000 zeros).
        var dot = mantissa.IndexOf('.');
        var fraction = dot < 0 ? 0 : mantissa.Length - dot - 1;
        var places = fraction - exponent;
        if (places > Math.Min(MaxScale, fraction + 400))
        {
            return $"the number {Shorten(raw)}, which would be stored with {places} decimal places";
        }

        return null;
    }

    private static string Shorten(string raw) => raw.Length > 40 ? raw[..40] + "…" : raw;

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
