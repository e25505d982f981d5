using Npgsql;

namespace Platform.Executor.Storage;

/// <summary>The platform's connection pool (Hangfire has its own, see hangfire.md pitfall 5).</summary>
public sealed class PlatformDatabase(NpgsqlDataSource dataSource) : IAsyncDisposable
{
    public NpgsqlDataSource DataSource { get; } = dataSource;

    public string ConnectionString => DataSource.ConnectionString;

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();

    /// <summary>
    /// Runs an idempotent unit of work, retrying transient failures: connection loss, serialization failures,
    /// deadlocks and <c>57P01 admin_shutdown</c> after a PostgreSQL restart (reliability.md §2.9).
    /// </summary>
    public async Task<T> RetryAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(50);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await work(cancellationToken);
            }
            catch (Exception ex) when (attempt < 8 && IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    public static bool IsTransient(Exception ex) => ex switch
    {
        PostgresException pg => pg.IsTransient || pg.SqlState is "57P01" or "57P02" or "57P03" or "40001" or "40P01" or "53300",
        NpgsqlException npg => npg.IsTransient,
        TimeoutException => true,
        _ => ex.InnerException is not null && IsTransient(ex.InnerException),
    };

    /// <summary>True when the database cannot be reached at all (the API answers 503 then).</summary>
    public static bool IsUnavailable(Exception ex) => ex switch
    {
        PostgresException pg => pg.SqlState is "57P01" or "57P02" or "57P03" or "53300",
        NpgsqlException npg => npg.IsTransient,
        TimeoutException => true,
        _ => ex.InnerException is not null && IsUnavailable(ex.InnerException),
    };
}
