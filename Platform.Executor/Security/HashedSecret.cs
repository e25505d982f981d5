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

    public HashedSecret(string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        _hash = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
    }

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
