using FunctionSdk.Functions;
using FunctionSdk.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps the endpoint the platform calls.</summary>
public static class DurableFunctionsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the app's durable functions endpoint at <paramref name="pattern"/>: <c>GET</c> introspection,
    /// <c>PUT</c> sync with the platform, <c>POST</c> function calls (the Inngest wire protocol). The platform
    /// must reach this URL; when a signing key is configured every call must be signed.
    /// </summary>
    /// <param name="endpoints">The app.</param>
    /// <param name="pattern">The route, e.g. <c>/api/durable</c>.</param>
    /// <returns>The endpoint's convention builder (add authorization policies, host filters, ...).</returns>
    /// <exception cref="InvalidOperationException"><c>AddDurableFunctions</c> was not called.</exception>
    public static IEndpointConventionBuilder MapDurableFunctions(this IEndpointRouteBuilder endpoints, string pattern = "/api/durable")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        if (endpoints.ServiceProvider.GetService<FunctionCatalog>() is null)
        {
            throw new InvalidOperationException(
                "Unable to find the durable functions services. Add them by calling " +
                "'builder.Services.AddDurableFunctions(builder.Configuration.GetSection(\"DurableFunctions\"))' " +
                "in the application startup code before calling 'app.MapDurableFunctions(...)'.");
        }

        endpoints.ServiceProvider.GetRequiredService<EndpointState>().Path = pattern;
        var endpoint = endpoints.ServiceProvider.GetRequiredService<DurableEndpoint>();
        return endpoints.Map(pattern, endpoint.HandleAsync).WithDisplayName("Durable functions");
    }
}
