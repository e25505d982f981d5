using Npgsql;
using Platform.Tests.Infrastructure;

namespace Platform.Dashboard.Tests.Infrastructure;

/// <summary>
/// A fresh database per platform, on the same PostgreSQL the platform's other tests use
/// (<see cref="PostgresServer"/>: <c>PLATFORM_TEST_PG</c> when set, else an embedded server). They never skip.
/// </summary>
public static class TestDatabase
{
    public static async Task<string> CreateAsync(string prefix)
    {
        var server = await PostgresServer.GetAsync();
        return await server.CreateDatabaseAsync(prefix);
    }

    public static async Task DropAsync(string connectionString)
    {
        var server = await PostgresServer.GetAsync();
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(server.AdminConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
