using Platform.Executor.Events;

namespace Platform.Tests.Unit;

/// <summary>ULIDs: 26 Crockford base32 characters, sortable by time; seeded ids for retried sends (protocol.md §16).</summary>
public sealed class UlidTests
{
    private const string Crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private const long SeedMs = 1_700_000_000_000;
    private const string Seed = "1700000000000,AQIDBAUGBwgJCg==";

    [Fact]
    public void New_Always26CrockfordCharacters()
    {
        for (var i = 0; i < 1_000; i++)
        {
            var id = Ulid.New(DateTimeOffset.UtcNow);

            Assert.Equal(26, id.Length);
            Assert.All(id, c => Assert.Contains(c, Crockford));
        }
    }

    [Fact]
    public void New_LaterMillisecond_SortsAfterOrdinally()
    {
        var start = new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
        var ids = Enumerable.Range(0, 2_000).Select(i => Ulid.New(start.AddMilliseconds(i * 7))).ToList();

        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void New_SameMillisecond_DiffersByEntropyAndSharesTheTimePrefix()
    {
        var now = DateTimeOffset.UtcNow;

        var a = Ulid.New(now);
        var b = Ulid.New(now);

        Assert.NotEqual(a, b);
        Assert.Equal(a[..10], b[..10]);
    }

    [Theory]
    [InlineData(0L, (byte)0x00, "00000000000000000000000000")]
    [InlineData(0xFFFF_FFFF_FFFFL, (byte)0xFF, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ")]
    [InlineData(1_469_918_176_385L, (byte)0x00, "01ARYZ6S410000000000000000")]
    public void Create_KnownValues_EncodeAsTheUlidSpecSays(long ms, byte fill, string expected)
    {
        // 1469918176385 is the timestamp of the ULID spec's example, 01ARYZ6S41...
        var entropy = Enumerable.Repeat(fill, 10).ToArray();

        Assert.Equal(expected, Ulid.Create(ms, entropy));
    }

    [Theory]
    [InlineData(9)]
    [InlineData(11)]
    public void Create_EntropyNotTenBytes_Throws(int length)
    {
        Assert.Throws<ArgumentException>(() => Ulid.Create(0, new byte[length]));
    }

    [Fact]
    public void TryFromSeed_SameSeedAndPosition_SameIdEveryTime()
    {
        Assert.True(Ulid.TryFromSeed(Seed, 1, out var first));
        Assert.True(Ulid.TryFromSeed(Seed, 1, out var again));

        Assert.Equal(first, again);
        // The seed's time, and the position added to the last four entropy bytes: 0x0708090A + 1.
        Assert.Equal("01HF7YAT00041061050R3GG28B", first);
        Assert.Equal(Ulid.Create(SeedMs, new byte[10])[..10], first[..10]);
    }

    [Fact]
    public void TryFromSeed_OtherPositionOrSeed_DifferentIds()
    {
        Assert.True(Ulid.TryFromSeed(Seed, 1, out var one));
        Assert.True(Ulid.TryFromSeed(Seed, 2, out var two));
        Assert.True(Ulid.TryFromSeed("1700000000000,CgkIBwYFBAMCAQ==", 1, out var otherSeed));
        Assert.True(Ulid.TryFromSeed("1700000000001,AQIDBAUGBwgJCg==", 1, out var otherTime));

        Assert.Equal("01HF7YAT00041061050R3GG28C", two);
        Assert.Equal(4, new[] { one, two, otherSeed, otherTime }.Distinct().Count());
        Assert.True(string.CompareOrdinal(one, two) < 0, "later positions sort after earlier ones");
    }

    [Fact]
    public void TryFromSeed_EntropyTailOverflow_WrapsInsteadOfThrowing()
    {
        Assert.True(Ulid.TryFromSeed("1700000000000,/////////////w==", 1, out var id));

        Assert.Equal("01HF7YAT00ZZZZZZZZZW000000", id);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("1700000000000")]
    [InlineData(",AQIDBAUGBwgJCg==")]
    [InlineData("abc,AQIDBAUGBwgJCg==")]
    [InlineData("-1,AQIDBAUGBwgJCg==")]
    [InlineData("281474976710656,AQIDBAUGBwgJCg==")]
    [InlineData("1700000000000,")]
    [InlineData("1700000000000,not base64!")]
    [InlineData("1700000000000,AQIDBAUGBwgJ")]
    [InlineData("1700000000000,AQIDBAUGBwgJCgs=")]
    public void TryFromSeed_InvalidSeed_IsRejected(string? seed)
    {
        Assert.False(Ulid.TryFromSeed(seed, 1, out var id));
        Assert.Equal("", id);
    }
}
