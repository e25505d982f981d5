namespace Platform.Dashboard.Shared;

/// <summary>How live pages follow runs (configuration section <c>Dashboard</c>).</summary>
public sealed class LiveOptions
{
    public const string Section = "Dashboard";

    /// <summary>A page refreshes at most once per this interval, however many notifications arrive (bursts fold into one).</summary>
    public TimeSpan MinRefreshInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>While the listener is down, pages re-read this often.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>While the listener is up, pages still re-read this often (relative times, and a safety net).</summary>
    public TimeSpan LiveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>First wait before the listener reconnects; doubles up to <see cref="ReconnectMax"/>.</summary>
    public TimeSpan ReconnectMin { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan ReconnectMax { get; set; } = TimeSpan.FromSeconds(30);
}
