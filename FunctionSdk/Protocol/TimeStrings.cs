using System.Globalization;
using System.Text;

namespace FunctionSdk.Protocol;

/// <summary>Durations and instants written the way the JS SDK writes them (protocol.md §15.1).</summary>
internal static class TimeStrings
{
    private static readonly (char Suffix, long Milliseconds)[] s_periods =
    [
        ('w', 7L * 24 * 3600 * 1000),
        ('d', 24L * 3600 * 1000),
        ('h', 3600L * 1000),
        ('m', 60L * 1000),
        ('s', 1000L),
    ];

    /// <summary>
    /// <c>1m30s</c>, <c>2h</c>, <c>1w2d</c>; a positive duration under a second becomes <c>1s</c>, the
    /// remainder below a second is dropped, zero (or negative) is the empty string.
    /// </summary>
    public static string Duration(TimeSpan duration)
    {
        var ms = (long)Math.Floor(duration.TotalMilliseconds);
        if (duration > TimeSpan.Zero && ms < 1000)
        {
            ms = 1000;
        }

        var text = new StringBuilder();
        foreach (var (suffix, period) in s_periods)
        {
            var count = ms / period;
            if (count > 0)
            {
                text.Append(count.ToString(CultureInfo.InvariantCulture)).Append(suffix);
                ms %= period;
            }
        }

        return text.ToString();
    }

    /// <summary>JS <c>Date#toISOString</c>: UTC, milliseconds, <c>Z</c>.</summary>
    public static string Instant(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
