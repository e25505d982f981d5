namespace FunctionSdk.Tests.Infrastructure;

/// <summary>Waits on a condition with a timeout (never a fixed sleep).</summary>
public static class Eventually
{
    public static async Task WaitAsync(Func<bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!done())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}");
            }

            await Task.Delay(20);
        }
    }
}
