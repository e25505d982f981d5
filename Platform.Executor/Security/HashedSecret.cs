using System.Security.Cryptography;
using System.Text;

namespace Platform.Executor.Security;

/// <summary>
/// A secret kept only as its SHA-256 hash and compared in constant time: hashing both sides first means neither
/// the content nor the length of the configured secret leaks through timing. <see cref="ToString"/> never shows it.
/// </summary>
public sealed class HashedSecret
{
    private readonly byte[] _hash;

    public const string HashPrefix = "sha256:";

    public HashedSecret(string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        _hash = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
    }

    private HashedSecret(byte[] hash) => _hash = hash;

    /// <summary>
    /// A configured secret: either the secret itself or <c>sha256:&lt;64 hex&gt;</c>, its SHA-256 hash over UTF-8, so
    /// that the configuration need not hold the plaintext (event keys, the API token).
    /// </summary>
    public static HashedSecret FromConfigured(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        if (!value.StartsWith(HashPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return new HashedSecret(value);
        }

        var hex = value[HashPrefix.Length..];
        return hex.Length == 64 && hex.All(char.IsAsciiHexDigit)
            ? new HashedSecret(Convert.FromHexString(hex))
            : throw new InvalidOperationException($"A '{HashPrefix}' secret must be followed by 64 hex digits (the SHA-256 of the secret's UTF-8 bytes).");
    }

    /// <summary>The <c>sha256:&lt;hex&gt;</c> form of <paramref name="secret"/> to put in configuration instead of the secret.</summary>
    public static string HashForConfiguration(string secret) => HashPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>
    /// Key material bound to this secret for <paramref name="purpose"/> (an HMAC of the purpose under the secret's hash):
    /// changes when the secret changes, and says nothing about the secret or its hash.
    /// </summary>
    public byte[] DeriveKey(string purpose) => HMACSHA256.HashData(_hash, Encoding.UTF8.GetBytes(purpose));

    public bool Matches(string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), _hash);

    /// <summary>True when any of <paramref name="secrets"/> matches; every one is compared (no early exit).</summary>
    public static bool AnyMatches(IEnumerable<HashedSecret> secrets, string? presented)
    {
        var matched = false;
        foreach (var secret in secrets)
        {
            matched |= secret.Matches(presented);
        }

        return matched;
    }

    public override string ToString() => "HashedSecret(***)";
}
