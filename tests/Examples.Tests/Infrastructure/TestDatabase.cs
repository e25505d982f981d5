using System.Security.Cryptography;
using Npgsql;

namespace Examples.Tests.Infrastructure;

/// <summary>
/// A fresh PostgreSQL database on the server named by <c>PLATFORM_TEST_PG</c> (a user that may create databases),
/// dropped on dispose. The tests never skip: without the variable they fail and say what to set.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private const string Variable = "PLATFORM_TEST_PG";

    private readonly string _admin;
    private readonly string _name;

    private TestDatabase(string admin, string name)
    {
        _admin = admin;
        _name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    public string ConnectionString { get; }

    public static async Task<TestDatabase> CreateAsync(string prefix)
    {
        var admin = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(admin))
        {
            throw new InvalidOperationException(
                $"PostgreSQL is required for these tests: set {Variable}, e.g. " +
                "\"Host=127.0.0.1;Port=5432;Username=platform;Password=platform;Database=postgres\".");
        }

        var name = $"examples_{prefix}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        await ExecuteAsync(admin, $"CREATE DATABASE \"{name}\"");
        return new TestDatabase(admin, name);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        // FORCE ends connections the platform's pools may still hold.
        await ExecuteAsync(_admin, $"DROP DATABASE IF EXISTS \"{_name}\" WITH (FORCE)");
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
