using Microsoft.AspNetCore.Diagnostics;
using Platform.Api.Endpoints;
using Platform.Api.Hosting;
using Platform.Api.Security;
using Platform.Dashboard;
using Platform.Executor;
using Platform.Executor.Security;
using Platform.Executor.Storage;

var builder = WebApplication.CreateBuilder(args);

// The port Inngest SDKs look for in dev mode; --urls or ASPNETCORE_URLS override it.
if (string.IsNullOrWhiteSpace(builder.Configuration["urls"]))
{
    builder.WebHost.UseUrls("http://127.0.0.1:8288");
}

// Keys ⇒ production mode (signed calls, authenticated routes); none ⇒ dev mode, kept on loopback unless allowed.
var keys = PlatformKeys.FromConfiguration(builder.Configuration);
if (!keys.IsProduction && DevModeGuard.Check(builder.Configuration["urls"], builder.Configuration.GetValue<bool>("Platform:AllowRemoteDevMode")) is { } refusal)
{
    Console.Error.WriteLine(refusal);
    return 1;
}

// SSRF guard for calls to apps (production mode only); a loopback allowlist entry without AllowLoopbackApps refuses to start.
var networkPolicy = AppNetworkPolicy.FromConfiguration(builder.Configuration, keys);
builder.Services.AddSingleton(networkPolicy);
builder.Services.AddSingleton(sp => new AuthFailureLimiter(
    builder.Configuration.GetValue("Platform:Security:AuthFailuresPerMinute", AuthFailureLimiter.DefaultMaxFailures),
    TimeSpan.FromMinutes(1),
    sp.GetRequiredService<TimeProvider>()));

if (keys.IsProduction)
{
    // The event API's path carries the event key (POST /e/{eventKey}, the Inngest protocol), and the hosting log
    // writes every request's path ("Request starting …") and puts it in a scope on every log line of the request.
    // None here also stops that scope from being created (G10). Access logs belong to the reverse proxy.
    builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
}

builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = EventEndpoints.MaxRequestBytes + 1024);

var (connectionString, embedded) = await DatabaseBootstrap.ResolveAsync(builder, CancellationToken.None);
builder.Services.AddPlatformExecutor(builder.Configuration, connectionString);
builder.Services.AddProblemDetails();
// Request binding failures (malformed JSON, wrong types, "?archived=maybe", a body over Kestrel's limit) reach the
// exception handler below in every environment, which answers them with their 4xx and what was wrong.
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.AddEndpointsApiExplorer();
builder.Services.AddSwaggerGen(o => o.SwaggerDoc("v1", new() { Title = "Durable function platform", Version = "v1" }));
builder.Services.AddPlatformDashboard();
// The dashboard's CSS and scripts when run from the build output in any environment (publish copies them to wwwroot).
builder.WebHost.UseStaticWebAssets();

var app = builder.Build();

app.UseExceptionHandler(new ExceptionHandlerOptions
{
    ExceptionHandler = async context =>
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        if (error is BadHttpRequestException bad)
        {
            // The client's mistake, not ours: its status (400, 413, 415) with the binder's reason.
            context.Response.StatusCode = bad.StatusCode;
            await Results.Problem(
                statusCode: bad.StatusCode,
                detail: bad.InnerException is { } inner ? $"{bad.Message} {inner.Message}" : bad.Message).ExecuteAsync(context);
            return;
        }

        // The database being down is not a bug of ours: say so with a 503 the client can retry.
        var unavailable = error is not null && PlatformDatabase.IsUnavailable(error);
        context.Response.StatusCode = unavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status500InternalServerError;
        await Results.Problem(
            statusCode: context.Response.StatusCode,
            detail: unavailable ? "The database is unavailable; retry shortly" : "An unexpected error occurred; see the platform log").ExecuteAsync(context);
    },
    // A client's bad request is not an unhandled exception of ours: keep it out of the error log.
    SuppressDiagnosticsCallback = c => c.Exception is BadHttpRequestException,
});

// Error statuses set without a body (415 from the JSON binder, 404/405 for unknown routes) get a ProblemDetails body.
app.UseStatusCodePages();

app.UsePlatformAuthentication();
// Explicitly after authentication (WebApplication would otherwise route first): the router logs the request path,
// and the authentication middleware has just removed an event key from it.
app.UseRouting();

app.UseSwagger();
app.UseSwaggerUI();

app.MapHealth();
app.MapEventApi();
app.MapRegisterApi();
app.MapManagementApi();
app.MapPlatformDashboard();

await app.Services.MigrateAsync(CancellationToken.None);

if (embedded is not null)
{
    app.Lifetime.ApplicationStopped.Register(() => embedded.StopAsync(CancellationToken.None).GetAwaiter().GetResult());
}

app.Lifetime.ApplicationStarted.Register(() =>
{
    if (keys.IsProduction)
    {
        app.Logger.LogInformation("Platform listening on {Urls}. Production mode: calls to apps are signed; events, syncs, the API and the dashboard require keys.", string.Join(", ", app.Urls));
        if (networkPolicy.AllowsLoopback)
        {
            app.Logger.LogWarning(
                "Platform:Security:AllowLoopbackApps is set: apps on this host's loopback addresses may be registered and called ({Allowlist}). "
                + "Anyone holding the signing key can point the platform at local services; use it only for tests or a single-machine install.",
                networkPolicy.Describe());
        }
        else
        {
            app.Logger.LogInformation("App URLs must resolve to public addresses; allowlisted: {Allowlist}", networkPolicy.Describe() is { Length: > 0 } list ? list : "(none)");
        }
    }
    else
    {
        app.Logger.LogInformation(
            "Platform listening on {Urls}. Dev mode: no signing or event keys are configured, so any event key is accepted and apps are not verified; keep it on loopback.",
            string.Join(", ", app.Urls));
    }
});

await app.RunAsync();
return 0;

/// <summary>Entry point, visible to <c>WebApplicationFactory</c> in tests.</summary>
public partial class Program;
