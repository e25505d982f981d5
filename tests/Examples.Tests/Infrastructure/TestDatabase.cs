using Npgsql;
using Platform.Tests.Infrastructure;

namespace Examples.Tests.Infrastructure;

/// <summary>
/// A fresh PostgreSQL database, dropped on dispose, on the server every test project uses
/// (<see cref="PostgresServer"/>: <c>PLATFORM_TEST_PG</c> when set, else an embedded server). Never skips.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly string _admin;
    private readonly string _name;

    private TestDatabase(string admin, string connectionString)
    {
        _admin = admin;
        ConnectionString = connectionString;
        _name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
    }

    public string ConnectionString { get; }

    public static async Task<TestDatabase> CreateAsync(string prefix)
    {
        var server = await PostgresServer.GetAsync();
        return new TestDatabase(server.AdminConnectionString, await server.CreateDatabaseAsync($"examples_{prefix}"));
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        var builder = new NpgsqlConnectionStringBuilder(_admin) { Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        // FORCE ends connections the platform's pools may still hold.
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }
}
