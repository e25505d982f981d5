using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Integration;

public sealed class PlatformSmokeTests
{
    [Fact]
    public async Task Health_WithDatabase_ReportsHealthy()
    {
        await using var platform = await PlatformApp.StartAsync("smoke");
        using var response = await platform.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Healthy", body.GetProperty("database").GetProperty("status").GetString());
        // The test's own database, not the embedded default of a dev platform.
        var db = new Npgsql.NpgsqlConnectionStringBuilder(platform.GetRequiredService<Platform.Executor.Storage.PlatformDatabase>().ConnectionString).Database;
        Assert.StartsWith("smoke_", db);
    }
}
