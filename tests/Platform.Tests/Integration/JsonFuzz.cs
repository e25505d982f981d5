using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using CsCheck;

namespace Platform.Tests.Integration;

/// <summary>
/// CsCheck generators of event-API bodies (reliability.md F1): random JSON with the values PostgreSQL and JSON
/// parsers trip on (NUL, lone surrogates, 1e400, duplicate keys, deep nesting, long strings), wrong types for
/// <c>name</c>, <c>data</c>, <c>id</c>, <c>ts</c>, and broken JSON (truncated, junk inserted, invalid UTF-8).
/// Generators work on JSON text so that escapes and number spellings reach the platform exactly as written.
/// </summary>
public static class JsonFuzz
{
    /// <summary>One request body: 1-3 events, as one object or an array, sometimes broken on purpose.</summary>
    /// <remarks>
    /// Half the bodies are hostile throughout (NUL, lone surrogates, out-of-range numbers, wrong types); the other
    /// half use only storable values, so that what the platform accepts is exercised as much as what it rejects.
    /// </remarks>
    public static readonly Gen<byte[]> Body = Gen.OneOf(BodyOf(hostile: true), BodyOf(hostile: false));

    private static Gen<byte[]> BodyOf(bool hostile)
    {
        // Pieces of string content, already JSON-escaped.
        var fragment = hostile
            ? Gen.Frequency(
                (30, Gen.Char['a', 'z'].Select(c => c.ToString())),
                (8, Gen.OneOf(" ", "'", "\\\"", "\\\\", "\\n", "$$", "--", ";", "%00", "é", "e\u0301", "😀", "שלום", "\uFFFE")),
                (2, Gen.Const("\\u0000")),
                (2, Gen.OneOf("\\ud800", "\\udc00", "\\udbff")),
                (3, Gen.Char.Select(c => $"\\u{(int)c:x4}")))
            : Gen.Frequency(
                (30, Gen.Char['a', 'z'].Select(c => c.ToString())),
                (4, Gen.Char['A', 'Z'].Select(c => c.ToString())),
                (4, Gen.Char['0', '9'].Select(c => c.ToString())),
                (8, Gen.OneOf(" ", "'", "\\\"", "\\\\", "\\n", "\\t", "\\/", "$$", "--", ";", "%00", "é", "e\u0301", "😀", "שלום", "漢字",
                    "\u202E", "\uFFFE", "\uFFFF", "\\u00e9", "\\ud83d\\ude00")),
                (1, Gen.Char['\u0001', '\uD7FF'].Select(c => $"\\u{(int)c:x4}")));

        var str = Gen.Frequency(
            (60, fragment.Array[0, 8].Select(f => "\"" + string.Concat(f) + "\"")),
            (1, Gen.Int[1_000, 60_000].Select(n => "\"" + new string('x', n) + "\"")));

        var number = hostile
            ? Gen.Frequency(
                (4, Gen.Int.Select(i => i.ToString(CultureInfo.InvariantCulture))),
                (3, from m in Gen.Int[-99, 99] from e in Gen.Int[-400, 400] select $"{m}e{e}"),
                (3, Gen.OneOf("1e400", "-1e400", "1e-400", "0e-20000", "1e1000000", "0e99999999999999999999", "1e308", "5e-324", "-0")))
            : Gen.Frequency(
                (10, Gen.Int.Select(i => i.ToString(CultureInfo.InvariantCulture))),
                (3, Gen.Long.Select(l => l.ToString(CultureInfo.InvariantCulture))),
                (4, Gen.Double.Where(double.IsFinite).Select(d => d.ToString("R", CultureInfo.InvariantCulture))),
                (3, from m in Gen.Int[-99, 99] from e in Gen.Int[-300, 300] select $"{m}e{e}"),
                (2, Gen.OneOf("1e308", "1.7976931348623157e308", "5e-324", "-0", "0.0", "1E+2", "12345678901234567890123456789",
                    "1.000000000000000000001", "-0.0e-0", "1.5")));

        var key = Gen.Frequency((4, str), (1, Gen.OneOf("\"a\"", "\"b\"")));
        var value = Gen.Recursive<string>((depth, self) =>
        {
            var scalar = Gen.Frequency((4, str), (3, number), (1, Gen.OneOf("true", "false", "null")));
            if (depth >= 4)
            {
                return scalar;
            }

            return Gen.Frequency(
                (6, scalar),
                (1, self.Array[0, 4].Select(items => "[" + string.Join(",", items) + "]")),
                (2, ObjectOf(key, self)));
        });

        // "" leaves a field out; wrong types only in hostile bodies.
        var name = hostile
            ? Gen.Frequency((4, fragment.Array[1, 6].Select(f => "\"bad/fuzz/" + string.Concat(f) + "\"")), (1, str),
                (1, Gen.OneOf("\"inngest/fuzz\"", "\"\"", "")), (1, number))
            : fragment.Array[1, 6].Select(f => "\"bad/fuzz/" + string.Concat(f) + "\"");
        var data = hostile
            ? Gen.Frequency((4, ObjectOf(key, value)), (1, value), (1, Gen.OneOf("null", "")))
            : Gen.Frequency((8, ObjectOf(key, value)), (1, Gen.OneOf("null", "", "{}")));
        var id = hostile
            ? Gen.Frequency(
                (5, Gen.Const("")),
                (4, from f in fragment.Array[0, 6] from n in Gen.ULong select $"\"{string.Concat(f)}#{n}\""),
                (2, number))
            : Gen.Frequency(
                (5, Gen.Const("")),
                (4, from f in fragment.Array[0, 6] from n in Gen.ULong select $"\"{string.Concat(f)}#{n}\""));
        var validTs = Gen.Long[0, 4_000_000_000_000].Select(l => l.ToString(CultureInfo.InvariantCulture));
        var ts = hostile
            ? Gen.Frequency((6, Gen.Const("")), (2, validTs), (1, number), (1, str))
            : Gen.Frequency((6, Gen.Const("")), (2, validTs));
        var v = hostile
            ? Gen.Frequency((8, Gen.Const("")), (1, str), (1, number))
            : Gen.Frequency((8, Gen.Const("")), (1, str));

        var ev =
            from n in name
            from d in data
            from i in id
            from t in ts
            from vv in v
            select "{" + string.Join(",", new[] { ("name", n), ("data", d), ("id", i), ("ts", t), ("v", vv) }
                .Where(f => f.Item2.Length > 0)
                .Select(f => $"\"{f.Item1}\":{f.Item2}")) + "}";

        return
            from events in ev.Array[1, 3]
            from asArray in Gen.Bool
            from breakage in Gen.Frequency((6, Gen.Const(0)), (1, Gen.Int[1, 5]))
            from position in Gen.Int[0, int.MaxValue]
            from junk in Gen.OneOf("}", "]", ",", "\"", "x", "\\", "{", ":")
            select Break(events.Length == 1 && !asArray ? events[0] : "[" + string.Join(",", events) + "]", breakage, position, junk);
    }

    private static Gen<string> ObjectOf(Gen<string> key, Gen<string> value) =>
        (from k in key from v in value select k + ":" + v).Array[0, 5].Select(members => "{" + string.Join(",", members) + "}");

    private static byte[] Break(string json, int breakage, int position, string junk)
    {
        switch (breakage)
        {
            case 1: // truncated
                return Encoding.UTF8.GetBytes(json[..(position % json.Length)]);
            case 2: // junk inserted
                return Encoding.UTF8.GetBytes(json.Insert(position % json.Length, junk));
            case 3: // trailing garbage
                return Encoding.UTF8.GetBytes(json + " " + junk);
            case 4: // invalid UTF-8
                var bytes = Encoding.UTF8.GetBytes(json).ToList();
                bytes.Insert(position % bytes.Count, 0xFF);
                return bytes.ToArray();
            case 5: // nested up to 10,000 deep (accepted while within the platform's depth limit)
                var depth = 1 + (position % 10_000);
                return Encoding.UTF8.GetBytes($"{{\"name\":\"bad/fuzz/deep\",\"data\":{{\"d\":{new string('[', depth)}{new string(']', depth)}}}}}");
            default:
                return Encoding.UTF8.GetBytes(json);
        }
    }

    /// <summary>
    /// A JSON value in a canonical text form, for "reads back unchanged" in the JSON sense: object members sorted
    /// with the last of duplicate keys kept (as PostgreSQL's jsonb does), numbers compared by value.
    /// </summary>
    public static string Canonical(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "{" + string.Join(",", e.EnumerateObject()
            .GroupBy(p => p.Name, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, Value: g.Last().Value))
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => JsonSerializer.Serialize(p.Name) + ":" + Canonical(p.Value))) + "}",
        JsonValueKind.Array => "[" + string.Join(",", e.EnumerateArray().Select(Canonical)) + "]",
        JsonValueKind.String => JsonSerializer.Serialize(e.GetString()),
        JsonValueKind.Number => CanonicalNumber(e.GetRawText()),
        _ => e.GetRawText(),
    };

    /// <summary><c>1.50e2</c>, <c>150</c> and <c>150.0</c> all become <c>15e1</c>; every zero becomes <c>0</c>.</summary>
    public static string CanonicalNumber(string raw)
    {
        var negative = raw.StartsWith('-');
        var body = negative ? raw[1..] : raw;
        var e = body.IndexOfAny(['e', 'E']);
        var mantissa = e < 0 ? body : body[..e];
        var exponent = e < 0 ? BigInteger.Zero : BigInteger.Parse(body[(e + 1)..].TrimStart('+'), CultureInfo.InvariantCulture);
        var dot = mantissa.IndexOf('.');
        var digits = dot < 0 ? mantissa : mantissa.Remove(dot, 1);
        exponent -= dot < 0 ? 0 : mantissa.Length - dot - 1;
        digits = digits.TrimStart('0');
        if (digits.Length == 0)
        {
            return "0";
        }

        var trimmed = digits.TrimEnd('0');
        exponent += digits.Length - trimmed.Length;
        return $"{(negative ? "-" : "")}{trimmed}e{exponent}";
    }
}
