namespace Platform.Dashboard.Tests.Infrastructure;

/// <summary>Waits on a condition with a timeout (never a fixed sleep).</summary>
public static class Eventually
{
    public static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}");
            }

            await Task.Delay(50);
        }
    }

    public static async Task<T> ValueAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what) where T : class
    {
        T? value = null;
        await WaitAsync(async () => (value = await probe()) is not null, timeout, what);
        return value!;
    }
}
