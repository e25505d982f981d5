using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Examples.Tests.Infrastructure;

/// <summary>
/// An example app (its own <c>Program</c>, appsettings and services) in this process on a real Kestrel port on
/// 127.0.0.1, pointed at a test platform. It syncs itself on start as it does under <c>dotnet run</c>.
/// </summary>
/// <typeparam name="TEntry">Any type of the example's assembly.</typeparam>
public sealed class ExampleApp<TEntry> : IAsyncDisposable
    where TEntry : class
{
    private readonly WebApplicationFactory<TEntry> _factory;

    private ExampleApp(WebApplicationFactory<TEntry> factory, int port)
    {
        _factory = factory;
        Port = port;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
    }

    public int Port { get; }

    /// <summary>A client for the app's own API (<c>/orders</c>, <c>/signups</c>, ...).</summary>
    public HttpClient Http { get; }

    public IServiceProvider Services => _factory.Services;

    /// <summary>
    /// Starts the app with <paramref name="settings"/> over its appsettings.json and waits until the platform lists it
    /// as synced (a sync newer than the one before the start, so a restart on the same port counts too).
    /// </summary>
    public static async Task<ExampleApp<TEntry>> StartAsync(
        PlatformHost platform, string appId, IReadOnlyDictionary<string, string?> settings, int? port = null)
    {
        var listenPort = port ?? PlatformHost.FreePort();
        var syncedBefore = (await platform.GetAppAsync(appId))?.SyncedAt;
        var factory = new WebApplicationFactory<TEntry>().WithWebHostBuilder(b =>
        {
            b.UseSetting("DurableFunctions:PlatformUrl", platform.BaseUrl);
            b.UseSetting("Logging:LogLevel:Default", "Warning");
            foreach (var (key, value) in settings)
            {
                b.UseSetting(key, value);
            }
        });
        factory.UseKestrel(k => k.Listen(IPAddress.Loopback, listenPort));
        factory.StartServer();
        var app = new ExampleApp<TEntry>(factory, listenPort);
        var expectedUrl = $"http://127.0.0.1:{listenPort}/api/durable";
        await Eventually.WaitAsync(
            () => platform.GetAppAsync(appId),
            synced => synced is not null && synced.Url == expectedUrl && synced.SyncedAt != syncedBefore,
            $"app {appId} to sync from {expectedUrl}");
        return app;
    }

    public T Get<T>()
        where T : notnull =>
        Services.GetRequiredService<T>();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _factory.DisposeAsync();
    }
}
