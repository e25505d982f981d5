using Npgsql;
using Platform.Executor.Storage;

namespace Platform.Dashboard.Shared;

/// <summary>
/// Runs a page's read and turns database trouble into a message on the page, instead of an error page or a
/// broken circuit: the dashboard is what people open when something is wrong.
/// </summary>
public static class Guarded
{
    public static async Task RunAsync(Func<Task> read, Action<string> failed)
    {
        try
        {
            await read();
        }
        catch (Exception ex) when (IsExpected(ex))
        {
            failed(Describe(ex));
        }
    }

    public static string Describe(Exception ex) => PlatformDatabase.IsUnavailable(ex)
        ? "The database is unavailable; retrying."
        : $"Could not read from the database: {ex.Message}";

    private static bool IsExpected(Exception ex) =>
        PlatformDatabase.IsUnavailable(ex) || ex is NpgsqlException or TimeoutException || ex.InnerException is NpgsqlException;
}
