using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FunctionSdk.Tests.Infrastructure;

/// <summary>An ASP.NET Core app using the SDK the way a user would, on a TestServer or a real Kestrel port.</summary>
public static class SdkApp
{
    public const string Path = "/api/durable";

    public static async Task<WebApplication> StartAsync(
        Action<DurableFunctionsOptions> options,
        Action<DurableFunctionsBuilder> functions,
        bool kestrel = false,
        Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        if (kestrel)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.UseTestServer();
        }

        builder.Logging.ClearProviders();
        services?.Invoke(builder.Services);
        functions(builder.Services.AddDurableFunctions(o =>
        {
            o.AppId = "test-app";
            o.SyncOnStart = false;
            o.StepNotFoundTimeout = TimeSpan.FromMilliseconds(200);
            o.EventRetryInitialDelay = TimeSpan.FromMilliseconds(10);
            o.SyncRetryInitialDelay = TimeSpan.FromMilliseconds(50);
            options(o);
        }));
        var app = builder.Build();
        app.MapDurableFunctions(Path);
        await app.StartAsync();
        return app;
    }
}
