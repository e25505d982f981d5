using System.Security.Cryptography;

namespace Platform.Executor.Events;

/// <summary>ULIDs: 48-bit milliseconds + 80 random bits, Crockford base32, 26 characters, sortable by time.</summary>
public static class Ulid
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    public static string New(DateTimeOffset time)
    {
        Span<byte> entropy = stackalloc byte[10];
        RandomNumberGenerator.Fill(entropy);
        return Create(time.ToUnixTimeMilliseconds(), entropy);
    }

    public static string Create(long milliseconds, ReadOnlySpan<byte> entropy)
    {
        if (entropy.Length != 10)
        {
            throw new ArgumentException("ULID entropy is 10 bytes", nameof(entropy));
        }

        Span<byte> bytes = stackalloc byte[16];
        for (var i = 0; i < 6; i++)
        {
            bytes[i] = (byte)(milliseconds >> (8 * (5 - i)));
        }

        entropy.CopyTo(bytes[6..]);
        var value = new UInt128(
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes[..8]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
        Span<char> chars = stackalloc char[26];
        for (var i = 25; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }

        return new string(chars);
    }

    /// <summary>
    /// The ids of a send that carried <c>X-Inngest-Event-Id-Seed: &lt;unix ms&gt;,&lt;base64 of 10 bytes&gt;</c>: the SDK
    /// repeats the seed when it retries a send, so the same events get the same ids and are deduplicated
    /// (protocol.md §16). The 1-based position is added to the last four entropy bytes, as Inngest does.
    /// </summary>
    public static bool TryFromSeed(string? seed, int position, out string id)
    {
        id = "";
        if (string.IsNullOrEmpty(seed))
        {
            return false;
        }

        var comma = seed.IndexOf(',');
        if (comma <= 0 || !long.TryParse(seed.AsSpan(0, comma), out var ms) || ms < 0 || ms > 0xFFFF_FFFF_FFFF)
        {
            return false;
        }

        Span<byte> entropy = stackalloc byte[10];
        if (!Convert.TryFromBase64String(seed[(comma + 1)..], entropy, out var written) || written != 10)
        {
            return false;
        }

        var tail = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(entropy[6..]);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(entropy[6..], unchecked(tail + (uint)position));
        id = Create(ms, entropy);
        return true;
    }
}
