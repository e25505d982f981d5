using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Platform.Dashboard.Shared;

/// <summary>How the dashboard writes values: JSON indented, times in UTC, durations short.</summary>
public static class Format
{
    private static readonly JsonSerializerOptions s_indented = new()
    {
        WriteIndented = true,
        // Razor encodes the text for HTML; escaping here too would show \u003C instead of <.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Indented JSON; <c>null</c> for a missing value.</summary>
    public static string Json(JsonElement? value) =>
        value is not { ValueKind: not JsonValueKind.Undefined } element ? "null" : JsonSerializer.Serialize(element, s_indented);

    /// <summary>The CSS class carrying a run or step status colour: <c>st-failed</c>, <c>st-sleeping</c>, ...</summary>
    public static string StatusClass(string status) => "st-" + status.ToLowerInvariant();

    /// <summary>Full UTC time to the millisecond, for details and tooltips.</summary>
    public static string Time(DateTimeOffset? time) =>
        time is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture) + " UTC" : "–";

    /// <summary>Compact UTC time for tables: only the clock on the same day as <paramref name="now"/>.</summary>
    public static string ShortTime(DateTimeOffset time, DateTimeOffset now)
    {
        var t = time.UtcDateTime;
        var format = t.Date == now.UtcDateTime.Date ? "HH:mm:ss" : t.Year == now.UtcDateTime.Year ? "MMM d, HH:mm:ss" : "yyyy-MM-dd HH:mm";
        return t.ToString(format, CultureInfo.InvariantCulture);
    }

    /// <summary><c>850 ms</c>, <c>4.2 s</c>, <c>3m 05s</c>, <c>2h 10m</c>, <c>3d 4h</c>.</summary>
    public static string Duration(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero)
        {
            duration = TimeSpan.Zero;
        }

        var ci = CultureInfo.InvariantCulture;
        return duration.TotalSeconds switch
        {
            < 1 => string.Create(ci, $"{Math.Round(duration.TotalMilliseconds)} ms"),
            < 10 => string.Create(ci, $"{Math.Floor(duration.TotalSeconds * 100) / 100:0.##} s"),
            < 60 => string.Create(ci, $"{Math.Floor(duration.TotalSeconds * 10) / 10:0.#} s"),
            < 3600 => string.Create(ci, $"{(int)duration.TotalMinutes}m {duration.Seconds:00}s"),
            < 86400 => string.Create(ci, $"{(int)duration.TotalHours}h {duration.Minutes:00}m"),
            _ => string.Create(ci, $"{(int)duration.TotalDays}d {duration.Hours}h"),
        };
    }

    /// <summary>How long ago, coarse: <c>just now</c>, <c>12 s ago</c>, <c>5 min ago</c>, <c>3 h ago</c>, <c>2 d ago</c>.</summary>
    public static string Ago(DateTimeOffset time, DateTimeOffset now)
    {
        var d = now - time;
        var ci = CultureInfo.InvariantCulture;
        return d.TotalSeconds switch
        {
            < 1 => "just now",
            < 60 => string.Create(ci, $"{(int)d.TotalSeconds} s ago"),
            < 3600 => string.Create(ci, $"{(int)d.TotalMinutes} min ago"),
            < 86400 => string.Create(ci, $"{(int)d.TotalHours} h ago"),
            _ => string.Create(ci, $"{(int)d.TotalDays} d ago"),
        };
    }

    /// <summary>A run's duration: from start (or creation) to its end, or to now while it has not finished.</summary>
    public static string RunDuration(DateTimeOffset createdAt, DateTimeOffset? startedAt, DateTimeOffset? endedAt, DateTimeOffset now) =>
        Duration((endedAt ?? now) - (startedAt ?? createdAt));
}
