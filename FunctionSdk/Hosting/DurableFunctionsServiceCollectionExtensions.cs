using FunctionSdk;
using FunctionSdk.Events;
using FunctionSdk.Functions;
using FunctionSdk.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the durable functions SDK to an app's services.</summary>
public static class DurableFunctionsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the SDK with settings bound from <paramref name="configuration"/> (usually
    /// <c>builder.Configuration.GetSection("DurableFunctions")</c>), validated when the app starts. Then add
    /// functions on the returned builder and map the endpoint with <c>app.MapDurableFunctions(...)</c>.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The <c>DurableFunctions</c> configuration section.</param>
    /// <returns>A builder to register functions with.</returns>
    public static DurableFunctionsBuilder AddDurableFunctions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DurableFunctionsOptions>().Bind(configuration).ValidateOnStart();
        return AddCore(services);
    }

    /// <summary>Adds the SDK with settings set in code, validated when the app starts.</summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configure">Sets the options; <see cref="DurableFunctionsOptions.AppId"/> is required.</param>
    /// <returns>A builder to register functions with.</returns>
    public static DurableFunctionsBuilder AddDurableFunctions(this IServiceCollection services, Action<DurableFunctionsOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<DurableFunctionsOptions>().Configure(configure).ValidateOnStart();
        return AddCore(services);
    }

    private static DurableFunctionsBuilder AddCore(IServiceCollection services)
    {
        // Calling AddDurableFunctions twice adds to the same set of functions.
        var catalog = services.FirstOrDefault(d => d.ServiceType == typeof(FunctionCatalog))?.ImplementationInstance as FunctionCatalog;
        if (catalog is null)
        {
            catalog = new FunctionCatalog();
            services.AddSingleton(catalog);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DurableFunctionsOptions>, DurableFunctionsOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(DurableEventClient.HttpClientName);
        services.TryAddSingleton<IEventSender, DurableEventClient>();
        services.TryAddSingleton<EndpointState>();
        services.TryAddSingleton<AppRegistrar>();
        services.TryAddSingleton<DurableEndpoint>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, AppSyncService>());
        return new DurableFunctionsBuilder(services, catalog);
    }
}
