using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Platform.Dashboard.Shared;

namespace Platform.Dashboard;

/// <summary>Mounts the dashboard (Razor components) at the root of the platform's site.</summary>
public static class DashboardExtensions
{
    /// <summary>
    /// Registers the dashboard: Razor components with interactive server rendering (the live pages hold a Blazor
    /// circuit). Reads and actions go through the executor's services, so <c>AddPlatformExecutor</c> must be called too.
    /// </summary>
    public static IServiceCollection AddPlatformDashboard(this IServiceCollection services)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.TryAddSingleton<DashboardMarker>();
        // Live pages: one LISTEN connection per process, fanned out to every open page.
        services.AddOptions<LiveOptions>().BindConfiguration(LiveOptions.Section);
        services.TryAddSingleton<RunChangeFeed>();
        services.AddSingleton<RunChangeListener>();
        services.AddHostedService(sp => sp.GetRequiredService<RunChangeListener>());
        return services;
    }

    /// <summary>
    /// Maps the dashboard's pages (<c>/</c>, <c>/runs</c>, <c>/events</c>, <c>/apps</c>), its static assets
    /// (<c>/_content/Platform.Dashboard/</c>, <c>/_framework/blazor.web.js</c>) and the circuit hub (<c>/_blazor</c>),
    /// plus the antiforgery middleware its forms need. None of these collide with the API's routes.
    /// </summary>
    public static RazorComponentsEndpointConventionBuilder MapPlatformDashboard(this WebApplication app)
    {
        if (app.Services.GetService<DashboardMarker>() is null)
        {
            throw new InvalidOperationException(
                "The dashboard's services are missing: call builder.Services.AddPlatformDashboard() before app.MapPlatformDashboard().");
        }

        app.UseAntiforgery();
        app.MapStaticAssets();
        return app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
    }

    /// <summary>Proves <see cref="AddPlatformDashboard"/> ran (Hangfire's "you forgot AddX" guard).</summary>
    private sealed class DashboardMarker;
}
