using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Platform.Executor.Security;

/// <summary>Signing-key arithmetic of protocol.md §5.1–§5.3: normalization, request signatures, bearer hashes.</summary>
public static partial class SigningKeys
{
    [GeneratedRegex(@"^signkey-\w+-")]
    private static partial Regex PrefixRegex();

    /// <summary>The <c>signkey-&lt;env&gt;-</c> prefix of a key, or empty.</summary>
    public static string Prefix(string key)
    {
        var match = PrefixRegex().Match(key);
        return match.Success ? match.Value : string.Empty;
    }

    /// <summary>The key without its <c>signkey-&lt;env&gt;-</c> prefix.</summary>
    public static string Normalize(string key) => key[Prefix(key).Length..];

    /// <summary>The SDK's bearer token: <c>&lt;prefix&gt;hex(sha256(hexdecode(normalized)))</c> (§5.3).</summary>
    public static string BearerToken(string key)
    {
        var normalized = Normalize(key);
        return Prefix(key) + Convert.ToHexStringLower(SHA256.HashData(Convert.FromHexString(normalized)));
    }

    /// <summary>True when the normalized key is non-empty, even-length hex (the bearer hash needs it).</summary>
    public static bool IsValid(string key)
    {
        var normalized = Normalize(key);
        return normalized.Length > 0 && normalized.Length % 2 == 0 && normalized.All(char.IsAsciiHexDigit);
    }

    /// <summary>
    /// The <c>X-Inngest-Signature</c> value for a body already in JCS form (§5.2):
    /// <c>t=&lt;unix s&gt;&amp;s=hex(hmac-sha256(utf8(normalized key), body ‖ t))</c>.
    /// </summary>
    public static string Signature(string key, ReadOnlySpan<byte> jcsBody, long unixSeconds)
    {
        var t = unixSeconds.ToString(CultureInfo.InvariantCulture);
        var tBytes = Encoding.UTF8.GetBytes(t);
        var message = new byte[jcsBody.Length + tBytes.Length];
        jcsBody.CopyTo(message);
        tBytes.CopyTo(message.AsSpan(jcsBody.Length));
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(Normalize(key)), message);
        return $"t={t}&s={Convert.ToHexStringLower(mac)}";
    }
}
