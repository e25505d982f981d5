using Platform.Executor.Storage;

namespace Platform.Api.Hosting;

/// <summary>
/// Where the platform's database comes from: <c>ConnectionStrings:Platform</c> when set, else an embedded
/// PostgreSQL started from the machine's binaries with its data in a git-ignored folder.
/// </summary>
public static class DatabaseBootstrap
{
    public const int DefaultEmbeddedPort = 5488;

    public static async Task<(string ConnectionString, EmbeddedPostgres? Embedded)> ResolveAsync(WebApplicationBuilder builder, CancellationToken cancellationToken)
    {
        var configured = builder.Configuration.GetConnectionString("Platform");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return (configured, null);
        }

        // Lives as long as the process: the embedded server logs again when it stops at shutdown.
        var loggerFactory = LoggerFactory.Create(b => b.AddConsole());
        var logger = loggerFactory.CreateLogger("Platform.EmbeddedPostgres");
        var dataDirectory = builder.Configuration["Platform:DataDirectory"]
            ?? Path.Combine(builder.Environment.ContentRootPath, ".data", "postgres");
        var port = builder.Configuration.GetValue("Platform:EmbeddedPostgresPort", DefaultEmbeddedPort);
        logger.LogInformation("No ConnectionStrings:Platform configured: starting the embedded PostgreSQL (data in {DataDirectory})", dataDirectory);
        var embedded = await EmbeddedPostgres.StartAsync(dataDirectory, port, logger, cancellationToken);
        return (embedded.ConnectionString, embedded);
    }
}
