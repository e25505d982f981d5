using System.Collections.Concurrent;
using System.Net;

namespace Platform.Api.Security;

/// <summary>
/// Rate limit on failed authentication per client address (a fixed window opened by the first failure): after
/// <c>maxFailures</c> wrong credentials (sign-in form, API token, event key, register bearer) within the window,
/// every authenticated route answers 429 with <c>Retry-After</c> to that address until the window ends. Requests
/// that present no credential are not counted. Behind a reverse proxy all clients share the proxy's address.
/// </summary>
public sealed class AuthFailureLimiter(int maxFailures, TimeSpan window, TimeProvider time)
{
    public const int DefaultMaxFailures = 10;
    private const int PruneAbove = 10_000;
    private readonly ConcurrentDictionary<IPAddress, Window> _windows = new();

    public int MaxFailures => maxFailures;

    /// <summary>How long <paramref name="client"/> must wait, or null when it may try again.</summary>
    public TimeSpan? RetryAfter(IPAddress? client)
    {
        if (!_windows.TryGetValue(Key(client), out var entry))
        {
            return null;
        }

        lock (entry)
        {
            var left = entry.Start + window - time.GetUtcNow();
            return entry.Failures >= maxFailures && left > TimeSpan.Zero ? left : null;
        }
    }

    /// <summary>Counts one failed attempt by <paramref name="client"/>.</summary>
    public void RecordFailure(IPAddress? client)
    {
        var now = time.GetUtcNow();
        if (_windows.Count > PruneAbove)
        {
            foreach (var (address, old) in _windows)
            {
                if (old.Start + window <= now)
                {
                    _windows.TryRemove(address, out _);
                }
            }
        }

        var entry = _windows.GetOrAdd(Key(client), _ => new Window { Start = now });
        lock (entry)
        {
            if (entry.Start + window <= now)
            {
                entry.Start = now;
                entry.Failures = 0;
            }

            entry.Failures++;
        }
    }

    private static IPAddress Key(IPAddress? client) =>
        client is null ? IPAddress.None : client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client;

    private sealed class Window
    {
        public DateTimeOffset Start { get; set; }

        public int Failures { get; set; }
    }
}
