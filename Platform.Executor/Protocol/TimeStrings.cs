using System.Globalization;

namespace Platform.Executor.Protocol;

/// <summary>
/// Durations and instants as the SDKs send them (protocol.md §15.1): concatenated <c>&lt;number&gt;&lt;unit&gt;</c>
/// with units w d h m s ms us µs ns (fractions allowed), or an ISO-8601 instant.
/// </summary>
public static class TimeStrings
{
    /// <summary>Longest sleep or wait the platform accepts (Go rejects more than 366 days).</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromDays(366);

    /// <summary>Parses a duration string. The empty string is zero.</summary>
    public static bool TryParseDuration(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (text is null)
        {
            return false;
        }

        var s = text.Trim();
        if (s.Length == 0)
        {
            return true;
        }

        double totalTicks = 0;
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }

            if (start == i || !double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
            {
                return false;
            }

            var unitStart = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.')
            {
                i++;
            }

            double ticksPerUnit = s.AsSpan(unitStart, i - unitStart) switch
            {
                "w" => TimeSpan.TicksPerDay * 7,
                "d" => TimeSpan.TicksPerDay,
                "h" => TimeSpan.TicksPerHour,
                "m" => TimeSpan.TicksPerMinute,
                "s" => TimeSpan.TicksPerSecond,
                "ms" => TimeSpan.TicksPerMillisecond,
                "us" or "µs" or "μs" => TimeSpan.TicksPerMicrosecond,
                "ns" => 0.01,
                _ => -1,
            };
            if (ticksPerUnit < 0)
            {
                return false;
            }

            totalTicks += value * ticksPerUnit;
            if (totalTicks > TimeSpan.MaxValue.Ticks / 2)
            {
                return false;
            }
        }

        duration = TimeSpan.FromTicks((long)Math.Ceiling(totalTicks));
        return true;
    }

    /// <summary>Parses an ISO-8601 / RFC 3339 instant such as <c>2026-11-28T04:46:01.824Z</c>.</summary>
    public static bool TryParseInstant(string? text, out DateTimeOffset instant)
    {
        instant = default;
        return text is { Length: >= 10 }
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out instant);
    }

    /// <summary>A sleep target: an instant, else a duration from <paramref name="now"/>.</summary>
    public static bool TryParseWakeTime(string? text, DateTimeOffset now, out DateTimeOffset wakeAt)
    {
        if (TryParseDuration(text, out var duration))
        {
            wakeAt = now + duration;
            return duration <= MaxDuration;
        }

        if (TryParseInstant(text, out wakeAt))
        {
            return wakeAt <= now + MaxDuration;
        }

        return false;
    }
}
