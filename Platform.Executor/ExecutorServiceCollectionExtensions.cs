using Hangfire;
using Hangfire.PostgreSql;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Npgsql;
using Platform.Executor.Apps;
using Platform.Executor.Events;
using Platform.Executor.Queries;
using Platform.Executor.Runs;
using Platform.Executor.Scheduling;
using Platform.Executor.Security;
using Platform.Executor.Storage;

namespace Platform.Executor;

public static class ExecutorServiceCollectionExtensions
{
    /// <summary>
    /// Registers the engine: store, ingest, sync, executor, Hangfire (own schema, own pool) and the sweeper.
    /// Call <see cref="MigrateAsync"/> before the host starts.
    /// </summary>
    public static IServiceCollection AddPlatformExecutor(this IServiceCollection services, IConfiguration configuration, string connectionString)
    {
        services.AddOptions<ExecutorOptions>().Bind(configuration.GetSection(ExecutorOptions.Section)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ExecutorOptions>, ExecutorOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);

        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.ApplicationName ??= "platform";
        if (builder.KeepAlive == 0)
        {
            builder.KeepAlive = 30;
        }

        // Measured by the benchmark: statements were re-planned on every call (planning the run update cost more
        // than running it) and DISCARD ALL on every pool return dropped the plans again. The platform sets no
        // session state (the sweeper's advisory lock is transaction-scoped), so keeping sessions is safe.
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 64;
        }

        builder.NoResetOnClose = true;

        var platformConnection = builder.ConnectionString;
        services.AddSingleton(_ => new PlatformDatabase(new NpgsqlDataSourceBuilder(platformConnection).Build()));
        services.AddDbContextFactory<PlatformDbContext>((sp, o) => o
            .UseNpgsql(sp.GetRequiredService<PlatformDatabase>().DataSource, npgsql => npgsql
                .MigrationsHistoryTable("__ef_migrations", "platform")
                .EnableRetryOnFailure())
            .UseSnakeCaseNamingConvention());

        // Keys (Platform:SigningKey, …): none ⇒ dev mode. Read once; Program resolves it at start so a bad configuration fails fast.
        services.TryAddSingleton(_ => PlatformKeys.FromConfiguration(configuration));
        services.TryAddSingleton<RequestSigner>();
        // Where calls to apps may go (SSRF guard): enforced in production mode, off in dev mode.
        services.TryAddSingleton(sp => AppNetworkPolicy.FromConfiguration(configuration, sp.GetRequiredService<PlatformKeys>()));
        services.AddSingleton<Expressions>();
        services.AddSingleton<FunctionRegistry>();
        services.AddSingleton<EventIngest>();
        services.AddSingleton<AppSync>();
        services.AddSingleton<RunStore>();
        services.AddSingleton<RunCommands>();
        services.AddSingleton<PlatformQueries>();
        services.AddTransient<RunExecutor>();
        services.AddTransient<RunJob>();
        services.AddHttpClient<AppCaller>(AppCaller.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var handler = sp.GetRequiredService<AppNetworkPolicy>().CreateHandler();
                handler.ConnectTimeout = TimeSpan.FromSeconds(10);
                handler.PooledConnectionLifetime = TimeSpan.FromMinutes(5);
                handler.MaxConnectionsPerServer = 256;
                return handler;
            })
            .ConfigureHttpClient(c => c.Timeout = Timeout.InfiniteTimeSpan);
        services.AddHttpClient<AppSyncClient>()
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<AppNetworkPolicy>().CreateHandler())
            .ConfigureHttpClient(c => c.Timeout = TimeSpan.FromSeconds(30));

        services.AddSingleton<HangfireRunDispatcher>();
        services.AddSingleton<LocalRunDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<LocalRunDispatcher>());
        services.AddSingleton<IRunDispatcher>(sp =>
            string.Equals(sp.GetRequiredService<IOptions<ExecutorOptions>>().Value.Dispatch, "hangfire", StringComparison.OrdinalIgnoreCase)
                ? sp.GetRequiredService<HangfireRunDispatcher>()
                : sp.GetRequiredService<LocalRunDispatcher>());
        services.AddSingleton<DispatchQueue>();
        services.AddHostedService(sp => sp.GetRequiredService<DispatchQueue>());
        services.AddSingleton<Sweeper>();
        services.AddHostedService(sp => sp.GetRequiredService<Sweeper>());
        services.AddSingleton<LifecycleSignal>();
        services.AddSingleton<LifecyclePublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<LifecyclePublisher>());
        services.AddSingleton<RunChangeNotifier>();
        services.AddHostedService(sp => sp.GetRequiredService<RunChangeNotifier>());
        services.AddSingleton<Housekeeping>();
        services.AddHostedService(sp => sp.GetRequiredService<Housekeeping>());
        services.AddSingleton<CronScheduler>();
        services.AddHostedService(sp => sp.GetRequiredService<CronScheduler>());
        services.AddSingleton<RunTimeouts>();
        services.AddHostedService(sp => sp.GetRequiredService<RunTimeouts>());

        // Hangfire: settings measured in hangfire.md (sliding invisibility, no long polling, 1 s polls).
        var hangfireConnection = new NpgsqlConnectionStringBuilder(platformConnection) { ApplicationName = "platform-hangfire" }.ConnectionString;
        services.AddHangfire((sp, config) =>
        {
            var options = sp.GetRequiredService<IOptions<ExecutorOptions>>().Value;
            config.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings()
                .UsePostgreSqlStorage(o => o.UseNpgsqlConnection(hangfireConnection), new PostgreSqlStorageOptions
                {
                    SchemaName = "hangfire",
                    QueuePollInterval = options.QueuePollInterval,
                    EnableLongPolling = false,
                    UseSlidingInvisibilityTimeout = true,
                    InvisibilityTimeout = TimeSpan.FromMinutes(5),
                    DistributedLockTimeout = TimeSpan.FromMinutes(1),
                    PrepareSchemaIfNecessary = true,
                });
        });

        var workers = configuration.GetSection(ExecutorOptions.Section).GetValue<int?>(nameof(ExecutorOptions.WorkerCount)) ?? new ExecutorOptions().WorkerCount;
        if (workers > 0)
        {
            services.AddHangfireServer((sp, o) =>
            {
                var options = sp.GetRequiredService<IOptions<ExecutorOptions>>().Value;
                o.WorkerCount = options.WorkerCount;
                o.SchedulePollingInterval = options.SchedulePollingInterval;
                o.ServerName = $"{Environment.MachineName}:{Environment.ProcessId}";
            });
        }

        return services;
    }

    /// <summary>Applies the EF Core migrations (idempotent; safe with several processes starting at once).</summary>
    public static async Task MigrateAsync(this IServiceProvider services, CancellationToken cancellationToken)
    {
        var factory = services.GetRequiredService<IDbContextFactory<PlatformDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken);
        await db.Database.MigrateAsync(cancellationToken);
    }
}
