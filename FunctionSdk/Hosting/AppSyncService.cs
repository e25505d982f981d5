using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionSdk.Hosting;

/// <summary>
/// Syncs the app with the platform once the app is listening, retrying with exponential backoff until the
/// platform accepts it (the platform may start after the app). Turned off by
/// <see cref="DurableFunctionsOptions.SyncOnStart"/>.
/// </summary>
internal sealed partial class AppSyncService(
    AppRegistrar registrar,
    EndpointState endpoint,
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    IOptions<DurableFunctionsOptions> options,
    TimeProvider time,
    ILogger<AppSyncService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.SyncOnStart)
        {
            LogSyncDisabled(logger, settings.AppId);
            return;
        }

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        using (stoppingToken.Register(() => started.TrySetCanceled(stoppingToken)))
        {
            try
            {
                await started.Task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        var serveUrl = ResolveServeUrl(settings);
        if (serveUrl is null)
        {
            return;
        }

        var delay = settings.SyncRetryInitialDelay;
        for (var attempt = 1; !stoppingToken.IsCancellationRequested; attempt++)
        {
            SyncOutcome outcome;
            try
            {
                outcome = await registrar.RegisterAsync(serveUrl, null, null, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Includes an HTTP timeout: a failed attempt like any other, never a crash of the host.
                outcome = new SyncOutcome(500, e.Message, false);
            }

            if (outcome.Succeeded)
            {
                LogSynced(logger, settings.AppId, registrar.FunctionCount, serveUrl, settings.PlatformUrl, outcome.Modified);
                return;
            }

            LogSyncFailed(logger, settings.AppId, settings.PlatformUrl, attempt, outcome.Status, outcome.Message, delay);
            try
            {
                await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, settings.SyncRetryMaxDelay.Ticks));
        }
    }

    private string? ResolveServeUrl(DurableFunctionsOptions settings)
    {
        if (!string.IsNullOrEmpty(settings.ServeUrl))
        {
            return settings.ServeUrl;
        }

        if (endpoint.Path is not { } path)
        {
            LogNoEndpoint(logger, settings.AppId);
            return null;
        }

        var address = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        if (address is null)
        {
            LogNoAddress(logger, settings.AppId);
            return null;
        }

        var binding = BindingAddress.Parse(address);
        var host = binding.Host;
        if (host is "+" or "*" or "0.0.0.0" or "[::]")
        {
            // A wildcard address is not reachable as such; loopback is right for a platform on the same machine.
            host = "127.0.0.1";
            LogWildcardAddress(logger, address);
        }

        return $"{binding.Scheme}://{host}:{binding.Port}{binding.PathBase}/{path.TrimStart('/')}";
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sync on start is off for app {AppId} (DurableFunctions:SyncOnStart = false); sync it with PUT on its endpoint")]
    private static partial void LogSyncDisabled(ILogger logger, string appId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Synced app {AppId} ({FunctionCount} functions, served at {ServeUrl}) with the platform at {PlatformUrl} (modified: {Modified})")]
    private static partial void LogSynced(ILogger logger, string appId, int functionCount, string serveUrl, string platformUrl, bool modified);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Syncing app {AppId} with the platform at {PlatformUrl} failed (attempt {Attempt}, status {Status}): {Message}; retrying in {Delay}")]
    private static partial void LogSyncFailed(ILogger logger, string appId, string platformUrl, int attempt, int status, string message, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Cannot sync app {AppId} on start: no endpoint is mapped (call app.MapDurableFunctions(\"/api/durable\")) and DurableFunctions:ServeUrl is not set")]
    private static partial void LogNoEndpoint(ILogger logger, string appId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Cannot sync app {AppId} on start: the server reports no listening address; set DurableFunctions:ServeUrl to the endpoint's public URL")]
    private static partial void LogNoAddress(ILogger logger, string appId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The app listens on the wildcard address {Address}; advertising 127.0.0.1 to the platform. Set DurableFunctions:ServeUrl if the platform runs elsewhere")]
    private static partial void LogWildcardAddress(ILogger logger, string address);
}
