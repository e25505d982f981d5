using System.Text.RegularExpressions;
using Cronos;

namespace Platform.Executor.Scheduling;

/// <summary>
/// A cron trigger (protocol.md §6.4): five fields, or six with seconds first, or a macro such as <c>@daily</c>,
/// optionally prefixed <c>TZ=Area/City </c> (or <c>CRON_TZ=</c>); UTC without a prefix.
/// </summary>
public sealed partial record CronSchedule(string Text, CronExpression Expression, TimeZoneInfo Zone)
{
    [GeneratedRegex(@"^\s*(?:CRON_)?TZ=(?<zone>\S+)\s+(?<expr>.+?)\s*$")]
    private static partial Regex ZonePrefix();

    public static bool TryParse(string? text, out CronSchedule? schedule, out string error)
    {
        schedule = null;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "an empty cron expression";
            return false;
        }

        var expression = text.Trim();
        var zone = TimeZoneInfo.Utc;
        if (ZonePrefix().Match(expression) is { Success: true } prefixed)
        {
            if (!TimeZoneInfo.TryFindSystemTimeZoneById(prefixed.Groups["zone"].Value, out var found))
            {
                error = $"unknown time zone '{prefixed.Groups["zone"].Value}'";
                return false;
            }

            zone = found;
            expression = prefixed.Groups["expr"].Value;
        }

        var format = expression.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard;
        if (!CronExpression.TryParse(expression, format, out var parsed))
        {
            error = $"'{expression}' is not a cron expression (five fields, six with seconds, or a macro such as @daily)";
            return false;
        }

        schedule = new CronSchedule(text, parsed, zone);
        return true;
    }

    /// <summary>The ticks in (<paramref name="after"/>, <paramref name="until"/>], oldest first, in UTC.</summary>
    public IEnumerable<DateTimeOffset> Ticks(DateTimeOffset after, DateTimeOffset until) =>
        after >= until ? [] : Expression.GetOccurrences(after, until, Zone, fromInclusive: false, toInclusive: true).Select(t => t.ToUniversalTime());
}
