using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Platform.Executor.Storage;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a running platform.</summary>
internal sealed class DesignTimeFactory : IDesignTimeDbContextFactory<PlatformDbContext>
{
    public PlatformDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PlatformDbContext>()
            .UseNpgsql("Host=127.0.0.1;Database=platform_design", o => o.MigrationsHistoryTable("__ef_migrations", "platform"))
            .UseSnakeCaseNamingConvention()
            .Options);
}
