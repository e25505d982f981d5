using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace FunctionSdk.Protocol;

/// <summary>
/// Request signatures (protocol.md §5.2): <c>X-Inngest-Signature: t=&lt;unix s&gt;&amp;s=&lt;hex&gt;</c>, the HMAC-SHA256
/// of <c>JCS(body) + t</c> keyed with the UTF-8 bytes of the signing key without its <c>signkey-&lt;env&gt;-</c>
/// prefix. And the bearer token the SDK presents to the platform (§5.3).
/// </summary>
internal static partial class Signatures
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    [GeneratedRegex(@"^signkey-\w+-")]
    private static partial Regex KeyPrefix();

    public static string Normalize(string signingKey) => KeyPrefix().Replace(signingKey, "", 1);

    public static bool IsValidKey(string signingKey)
    {
        var normalized = Normalize(signingKey);
        return normalized.Length > 0 && normalized.Length % 2 == 0 && normalized.All(Uri.IsHexDigit);
    }

    /// <summary>Verifies a request signature; false for a missing, malformed, stale or wrong signature.</summary>
    public static bool Verify(string? header, ReadOnlySpan<byte> body, string signingKey, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(header))
        {
            return false;
        }

        string? timestamp = null;
        string? signature = null;
        foreach (var part in header.Split('&'))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                continue;
            }

            var key = part[..equals];
            if (key == "t")
            {
                timestamp = part[(equals + 1)..];
            }
            else if (key == "s")
            {
                signature = part[(equals + 1)..];
            }
        }

        if (timestamp is null || signature is null ||
            !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            return false;
        }

        if (Math.Abs(now.ToUnixTimeSeconds() - seconds) > (long)Window.TotalSeconds)
        {
            return false;
        }

        string canonical;
        try
        {
            canonical = body.IsEmpty ? "" : Jcs.Canonicalize(body);
        }
        catch (JsonException)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Hmac(canonical + timestamp, signingKey));
        var presented = Encoding.ASCII.GetBytes(signature.ToLowerInvariant());
        return CryptographicOperations.FixedTimeEquals(expected, presented);
    }

    /// <summary>Signs a response body the way the JS SDK does (no canonicalization: the body is already text).</summary>
    public static string Sign(string body, string signingKey, DateTimeOffset now)
    {
        var timestamp = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return $"t={timestamp}&s={Hmac(body + timestamp, signingKey)}";
    }

    /// <summary><c>Authorization: Bearer &lt;prefix&gt;&lt;sha256(hexdecode(key))&gt;</c>.</summary>
    public static string BearerToken(string signingKey)
    {
        var prefix = KeyPrefix().Match(signingKey) is { Success: true } match ? match.Value : "";
        var hashed = Convert.ToHexStringLower(SHA256.HashData(Convert.FromHexString(Normalize(signingKey))));
        return prefix + hashed;
    }

    private static string Hmac(string message, string signingKey) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(
            Encoding.UTF8.GetBytes(Normalize(signingKey)), Encoding.UTF8.GetBytes(message)));
}
