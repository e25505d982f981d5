namespace Platform.Dashboard.Shared;

/// <summary>
/// Fans the process's one <c>LISTEN platform_runs</c> connection (<see cref="RunChangeListener"/>) out to the live
/// components: a subscriber is called when runs were created or changed status, in this process or any other, and
/// when the listener goes up or down (<see cref="IsLive"/>), so it can refresh and switch between waiting for
/// notifications and polling. Callbacks run on the listener's thread: they must only signal, never do the work.
/// </summary>
public sealed class RunChangeFeed
{
    private readonly Lock _lock = new();
    private volatile Action[] _subscribers = [];
    private volatile bool _live;

    /// <summary>True while the listener's connection is up and listening: changes arrive as notifications.</summary>
    public bool IsLive => _live;

    /// <summary>The backend pid of the listening connection while it is up (for diagnostics and tests).</summary>
    public int? ListenerProcessId { get; private set; }

    /// <summary>Notifications received since the process started.</summary>
    public long Notifications => Interlocked.Read(ref _notifications);

    private long _notifications;

    /// <summary>Calls <paramref name="changed"/> on every change and every switch of <see cref="IsLive"/>, until disposed.</summary>
    public IDisposable Subscribe(Action changed)
    {
        lock (_lock)
        {
            _subscribers = [.. _subscribers, changed];
        }

        return new Subscription(this, changed);
    }

    /// <summary>Runs changed (a notification, or a reconnect after which changes may have been missed).</summary>
    public void Publish(bool notification)
    {
        if (notification)
        {
            Interlocked.Increment(ref _notifications);
        }

        foreach (var subscriber in _subscribers)
        {
            subscriber();
        }
    }

    /// <summary>The listener came up (with its backend pid) or went down (null); subscribers are told either way.</summary>
    public void SetListening(int? processId)
    {
        ListenerProcessId = processId;
        _live = processId is not null;
        Publish(notification: false);
    }

    private void Unsubscribe(Action changed)
    {
        lock (_lock)
        {
            _subscribers = _subscribers.Where(s => s != changed).ToArray();
        }
    }

    private sealed class Subscription(RunChangeFeed feed, Action changed) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                feed.Unsubscribe(changed);
            }
        }
    }
}
