using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.Features;
using Platform.Executor.Security;

namespace Platform.Api.Security;

/// <summary>
/// Production-mode gate in front of every route (dev mode passes everything through):
/// <c>/health</c> is open; <c>POST /e/{eventKey}</c> needs a configured event key; <c>/fn/register</c> needs the
/// SDK's bearer (primary or fallback signing key, plain or hashed, protocol.md §5.3); everything else — the
/// management API, Swagger and the dashboard — needs <c>Platform:ApiToken</c> as a bearer, or the session cookie
/// the sign-in form at <c>/login</c> sets after checking the token (<see cref="DashboardSession"/>: signed, expiring,
/// not the token; <c>POST /logout</c> clears it). Both forms carry an antiforgery token
/// (a post without one is 400). Every comparison is over SHA-256 hashes in constant time. Wrong credentials are
/// counted per client address by <see cref="AuthFailureLimiter"/>: past the limit, 429 with <c>Retry-After</c>.
/// It must run before routing (Program calls <c>UseRouting</c> after it): an accepted event key is removed from the
/// request path before the router, the endpoint or any log sees it.
/// </summary>
public static class PlatformAuthentication
{
    public const string CookieName = "platform_session";
    public const string LoginPath = "/login";
    public const string LogoutPath = "/logout";

    /// <summary>What an accepted <c>/e/{eventKey}</c> request's path becomes, so the key reaches no log.</summary>
    public const string RedactedEventPath = "/e/(accepted-key)";

    public static IApplicationBuilder UsePlatformAuthentication(this IApplicationBuilder app)
    {
        var keys = app.ApplicationServices.GetRequiredService<PlatformKeys>();
        if (!keys.IsProduction)
        {
            return app;
        }

        var limiter = app.ApplicationServices.GetRequiredService<AuthFailureLimiter>();
        var antiforgery = app.ApplicationServices.GetRequiredService<IAntiforgery>();
        var sessions = new DashboardSession(keys, app.ApplicationServices.GetRequiredService<TimeProvider>());
        return app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (path.Equals("/health", StringComparison.OrdinalIgnoreCase))
            {
                await next(context);
                return;
            }

            var client = context.Connection.RemoteIpAddress;
            if (limiter.RetryAfter(client) is { } wait)
            {
                await TooManyFailuresAsync(context, path, wait);
                return;
            }

            if (path.StartsWithSegments("/e", StringComparison.OrdinalIgnoreCase, out var rest))
            {
                var eventKey = rest.HasValue ? rest.Value!.TrimStart('/').Split('/')[0] : null;
                if (!keys.AcceptsEventKey(eventKey))
                {
                    limiter.RecordFailure(client);
                    await Results.Json(new { status = 401, error = "Event key not found" }, statusCode: 401).ExecuteAsync(context);
                    return;
                }

                // The key has done its job: from here on (routing, the endpoint, every log line) the path no longer carries it.
                context.Request.Path = RedactedEventPath;
                if (context.Features.Get<IHttpRequestFeature>() is { } request)
                {
                    request.RawTarget = RedactedEventPath + context.Request.QueryString;
                }

                await next(context);
                return;
            }

            if (path.StartsWithSegments("/fn/register", StringComparison.OrdinalIgnoreCase))
            {
                var bearer = Bearer(context);
                if (!keys.AcceptsBearer(bearer))
                {
                    if (bearer is not null)
                    {
                        limiter.RecordFailure(client);
                    }

                    await Results.Json(new { error = "A valid signing key is required (Authorization: Bearer)", status = 401 }, statusCode: 401).ExecuteAsync(context);
                    return;
                }

                await next(context);
                return;
            }

            if (path.Equals(LoginPath, StringComparison.OrdinalIgnoreCase))
            {
                await LoginAsync(context, keys, sessions, limiter, antiforgery);
                return;
            }

            var bearerToken = Bearer(context);
            var cookie = context.Request.Cookies[CookieName];
            if (keys.AcceptsApiToken(bearerToken) || sessions.Accepts(cookie))
            {
                if (path.Equals(LogoutPath, StringComparison.OrdinalIgnoreCase) && HttpMethods.IsPost(context.Request.Method))
                {
                    await LogoutAsync(context, antiforgery);
                    return;
                }

                await next(context);
                return;
            }

            if (bearerToken is not null || cookie is not null)
            {
                limiter.RecordFailure(client);
            }

            if (cookie is not null)
            {
                context.Response.Cookies.Delete(CookieName);
            }

            if (path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
            {
                await Results.Problem(statusCode: 401, detail: "The management API requires Authorization: Bearer <Platform:ApiToken>").ExecuteAsync(context);
                return;
            }

            await LoginFormAsync(context, antiforgery, message: null);
        });
    }

    private static string? Bearer(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    private static async Task LoginAsync(HttpContext context, PlatformKeys keys, DashboardSession sessions, AuthFailureLimiter limiter, IAntiforgery antiforgery)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || !context.Request.HasFormContentType)
        {
            await LoginFormAsync(context, antiforgery, message: null);
            return;
        }

        if (!await antiforgery.IsRequestValidAsync(context))
        {
            await BadFormAsync(context);
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var token = form["token"].ToString();
        if (!keys.AcceptsApiToken(token))
        {
            limiter.RecordFailure(context.Connection.RemoteIpAddress);
            await LoginFormAsync(context, antiforgery, "That token is not the configured API token.");
            return;
        }

        context.Response.Cookies.Append(CookieName, sessions.Issue(), new CookieOptions
        {
            MaxAge = DashboardSession.Lifetime,
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
        });
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = "/";
    }

    private static async Task LogoutAsync(HttpContext context, IAntiforgery antiforgery)
    {
        if (!context.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(context))
        {
            await BadFormAsync(context);
            return;
        }

        context.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/", SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps, HttpOnly = true });
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = LoginPath;
    }

    private static Task BadFormAsync(HttpContext context) =>
        Results.Problem(statusCode: 400, detail: "The form's antiforgery token is missing or invalid; reload the page and try again.").ExecuteAsync(context);

    private static Task TooManyFailuresAsync(HttpContext context, PathString path, TimeSpan wait)
    {
        var seconds = (int)Math.Ceiling(wait.TotalSeconds);
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        var message = $"Too many failed authentication attempts from this address; retry in {seconds} s";
        IResult result = path.StartsWithSegments("/e", StringComparison.OrdinalIgnoreCase)
            ? Results.Json(new { status = 429, error = message }, statusCode: 429)
            : path.StartsWithSegments("/fn/register", StringComparison.OrdinalIgnoreCase)
                ? Results.Json(new { error = message, status = 429 }, statusCode: 429)
                : Results.Problem(statusCode: 429, detail: message);
        return result.ExecuteAsync(context);
    }

    private static async Task LoginFormAsync(HttpContext context, IAntiforgery antiforgery, string? message)
    {
        var tokens = antiforgery.GetAndStoreTokens(context);
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var error = message is null ? string.Empty : $"<p role=\"alert\">{WebUtility.HtmlEncode(message)}</p>";
        await context.Response.WriteAsync(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign in</title></head><body>"
            + "<h1>Durable function platform</h1>" + error
            + $"<form method=\"post\" action=\"{LoginPath}\">"
            + $"<input type=\"hidden\" name=\"{WebUtility.HtmlEncode(tokens.FormFieldName)}\" value=\"{WebUtility.HtmlEncode(tokens.RequestToken)}\">"
            + "<label>API token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required></label>"
            + "<button type=\"submit\">Sign in</button></form></body></html>",
            context.RequestAborted);
    }
}
