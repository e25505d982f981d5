namespace FunctionSdk.Execution;

/// <summary>
/// The synchronization context a function runs on during one call: every continuation of the function body
/// is queued here and run by the engine, one at a time, on the engine's own flow. So the engine knows when
/// the function is idle (the queue is empty) and decides what to do next deterministically, the way the JS
/// SDK waits for the microtask queue to drain.
/// </summary>
/// <remarks>
/// Continuations posted after the call ended are dropped: a function left waiting on a step whose result is
/// not stored yet is simply abandoned (its task never completes), never resumed with an exception.
/// </remarks>
internal sealed class ExecutionPump : SynchronizationContext
{
    private readonly Lock _lock = new();
    private readonly Queue<(SendOrPostCallback Callback, object? State)> _queue = new();
    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);
    private bool _closed;

    public override void Post(SendOrPostCallback d, object? state)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _queue.Enqueue((d, state));
        }

        Signal();
    }

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("Synchronous sends are not supported inside a durable function.");

    public override SynchronizationContext CreateCopy() => this;

    /// <summary>Wakes the engine: work was posted, a step was found, or the function finished.</summary>
    public void Signal()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }
        }

        _signal.Release();
    }

    /// <summary>Runs <paramref name="action"/> with this context as the current one.</summary>
    public T Run<T>(Func<T> action)
    {
        var previous = Current;
        SetSynchronizationContext(this);
        try
        {
            return action();
        }
        finally
        {
            SetSynchronizationContext(previous);
        }
    }

    /// <summary>Runs queued continuations until the queue is empty.</summary>
    public void RunPending()
    {
        while (true)
        {
            (SendOrPostCallback Callback, object? State) item;
            lock (_lock)
            {
                if (!_queue.TryDequeue(out item))
                {
                    return;
                }
            }

            Run(() =>
            {
                item.Callback(item.State);
                return true;
            });
        }
    }

    /// <summary>Waits for a <see cref="Signal"/>; false on timeout.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        _signal.WaitAsync(timeout, cancellationToken);

    /// <summary>Ends the call: later posts are dropped.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            _queue.Clear();
        }
    }
}
