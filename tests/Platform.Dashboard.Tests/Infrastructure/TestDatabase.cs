using System.Security.Cryptography;
using Npgsql;

namespace Platform.Dashboard.Tests.Infrastructure;

/// <summary>
/// A fresh database per platform, created on the PostgreSQL server that <c>PLATFORM_TEST_PG</c> names (a user that
/// may create databases). Without it the tests fail with a message that says so; they never skip.
/// </summary>
public static class TestDatabase
{
    public const string Variable = "PLATFORM_TEST_PG";

    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"The dashboard tests need PostgreSQL: set {Variable} to a connection string of a user that may create databases, " +
                "e.g. Host=127.0.0.1;Port=5432;Username=platform;Password=platform;Database=postgres");

    public static async Task<string> CreateAsync(string prefix)
    {
        var name = $"{prefix}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    public static async Task DropAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(AdminConnectionString);
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }
}
