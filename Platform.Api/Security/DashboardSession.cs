using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Platform.Executor.Security;

namespace Platform.Api.Security;

/// <summary>
/// The dashboard's sign-in cookie in production mode: <c>{expiresUnixSeconds}.{base64url(HMAC-SHA256)}</c>, not the
/// API token itself, so a cookie that leaks (a browser profile, a proxy that logs cookies) neither reveals the token nor
/// outlives <see cref="Lifetime"/>. The MAC key is derived from the signing key and the API token's hash, so no state is
/// kept (any platform process accepts a cookie any other issued) and changing either key ends every session.
/// Sign-out deletes the cookie in the browser; a copy taken before stays valid until it expires (no server-side list).
/// </summary>
public sealed class DashboardSession(PlatformKeys keys, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    private readonly byte[] _key = DeriveKey(keys);

    /// <summary>A new session cookie value, valid for <see cref="Lifetime"/> from now.</summary>
    public string Issue()
    {
        var expires = time.GetUtcNow().Add(Lifetime).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return expires + "." + Base64Url(Mac(expires));
    }

    /// <summary>True for a value this deployment issued (same keys) that has not expired.</summary>
    public bool Accepts(string? cookie)
    {
        if (_key.Length == 0 || string.IsNullOrEmpty(cookie) || cookie.Length > 64)
        {
            return false;
        }

        var dot = cookie.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || !long.TryParse(cookie.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var expires))
        {
            return false;
        }

        var expected = Base64Url(Mac(cookie[..dot]));
        var presented = cookie[(dot + 1)..];
        var macMatches = CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(presented));
        return macMatches && expires > time.GetUtcNow().ToUnixTimeSeconds();
    }

    private byte[] Mac(string expires) => HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes("dashboard-session:" + expires));

    private static byte[] DeriveKey(PlatformKeys keys) =>
        keys.SigningKey is { } signingKey && keys.ApiToken is { } apiToken
            ? HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), apiToken.DeriveKey("dashboard-session-key"))
            : [];

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
