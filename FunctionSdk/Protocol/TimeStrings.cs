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

    private static readonly long s_maxMilliseconds = (long)TimeSpan.MaxValue.TotalMilliseconds / 2;

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

    /// <summary>
    /// Reads a duration written by <see cref="Duration"/> (or another SDK: <c>ms</c> too). The empty string is zero.
    /// </summary>
    public static bool TryParseDuration(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (text is null)
        {
            return false;
        }

        long ms = 0;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }

            if (start == i || !long.TryParse(text.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                return false;
            }

            var unit = i + 1 < text.Length && text[i] == 'm' && text[i + 1] == 's' ? "ms" : i < text.Length ? text[i].ToString() : "";
            i += unit.Length;
            long? period = unit == "ms" ? 1 : s_periods.FirstOrDefault(p => p.Suffix.ToString() == unit) is { Milliseconds: > 0 } found ? found.Milliseconds : null;
            if (period is null || count > s_maxMilliseconds / period.Value)
            {
                return false;
            }

            ms += count * period.Value;
            if (ms > s_maxMilliseconds)
            {
                return false;
            }
        }

        duration = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    /// <summary>A sleep target as the SDK writes it: an ISO-8601 instant, else a duration from <paramref name="now"/>.</summary>
    public static bool TryParseWakeTime(string? text, DateTimeOffset now, out DateTimeOffset wakeAt)
    {
        if (TryParseDuration(text, out var duration))
        {
            wakeAt = now + duration;
            return true;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out wakeAt);
    }
}
