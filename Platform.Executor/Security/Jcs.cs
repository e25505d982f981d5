using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Platform.Executor.Security;

/// <summary>
/// RFC 8785 JSON Canonicalization Scheme: members sorted by UTF-16 code units, no whitespace, strings escaped only
/// for <c>"</c>, <c>\</c> and U+0000–U+001F, numbers as ECMAScript's <c>Number#toString</c> prints them.
/// The SDK re-canonicalizes every body before checking its signature (protocol.md §5.2), so we sign these bytes.
/// </summary>
public static class Jcs
{
    public static byte[] Canonicalize(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var sb = new StringBuilder(json.Length + 16);
        Write(document.RootElement, sb);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public static string Canonicalize(string json) => Encoding.UTF8.GetString(Canonicalize(Encoding.UTF8.GetBytes(json)));

    private static void Write(JsonElement element, StringBuilder sb)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                sb.Append('{');
                var members = element.EnumerateObject().Select(p => (Name: p.Name, p.Value)).ToList();
                members.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
                for (var i = 0; i < members.Count; i++)
                {
                    if (i > 0)
                    {
                        sb.Append(',');
                    }

                    WriteString(members[i].Name, sb);
                    sb.Append(':');
                    Write(members[i].Value, sb);
                }

                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var first = true;
                foreach (var item in element.EnumerateArray())
                {
                    if (!first)
                    {
                        sb.Append(',');
                    }

                    first = false;
                    Write(item, sb);
                }

                sb.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(element.GetString()!, sb);
                break;
            case JsonValueKind.Number:
                sb.Append(FormatNumber(element.GetDouble()));
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            default:
                sb.Append("null");
                break;
        }
    }

    private static void WriteString(string value, StringBuilder sb)
    {
        sb.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\t': sb.Append("\\t"); break;
                case '\n': sb.Append("\\n"); break;
                case '\f': sb.Append("\\f"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }

    /// <summary>ECMAScript <c>Number.prototype.toString()</c> of a finite double (ECMA-262 Number::toString).</summary>
    public static string FormatNumber(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentOutOfRangeException(nameof(value), "JSON has no NaN or Infinity");
        }

        if (value == 0)
        {
            return "0";
        }

        // .NET's "R" is the shortest round-trip form; take its significant digits and decimal exponent from it.
        var shortest = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        var exponentIndex = shortest.IndexOf('E');
        var mantissa = exponentIndex >= 0 ? shortest[..exponentIndex] : shortest;
        var exponent = exponentIndex >= 0 ? int.Parse(shortest[(exponentIndex + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : 0;
        var point = mantissa.IndexOf('.');
        var intPart = point >= 0 ? mantissa[..point] : mantissa;
        var fracPart = point >= 0 ? mantissa[(point + 1)..] : string.Empty;
        var digits = (intPart + fracPart).TrimStart('0');
        var leadingZeros = (intPart + fracPart).Length - digits.Length;
        // n: the position of the decimal point relative to the first significant digit (value = 0.d1d2… × 10^n).
        var n = intPart.Length + exponent - leadingZeros;
        digits = digits.TrimEnd('0');
        var k = digits.Length;

        var sb = new StringBuilder(32);
        if (value < 0)
        {
            sb.Append('-');
        }

        if (k <= n && n <= 21)
        {
            sb.Append(digits).Append('0', n - k);
        }
        else if (0 < n && n <= 21)
        {
            sb.Append(digits, 0, n).Append('.').Append(digits, n, k - n);
        }
        else if (-6 < n && n <= 0)
        {
            sb.Append("0.").Append('0', -n).Append(digits);
        }
        else
        {
            sb.Append(digits[0]);
            if (k > 1)
            {
                sb.Append('.').Append(digits, 1, k - 1);
            }

            var e = n - 1;
            sb.Append('e').Append(e >= 0 ? '+' : '-').Append(Math.Abs(e).ToString(CultureInfo.InvariantCulture));
        }

        return sb.ToString();
    }
}
