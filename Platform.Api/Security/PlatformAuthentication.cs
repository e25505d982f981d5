using System.Net;
using Platform.Executor.Security;

namespace Platform.Api.Security;

/// <summary>
/// Production-mode gate in front of every route (dev mode passes everything through):
/// <c>/health</c> is open; <c>POST /e/{eventKey}</c> needs a configured event key; <c>/fn/register</c> needs the
/// SDK's bearer (primary or fallback signing key, plain or hashed, protocol.md §5.3); everything else — the
/// management API, Swagger and the dashboard — needs <c>Platform:ApiToken</c> as a bearer or as the session cookie
/// set by the login form at <c>/login</c>. Every comparison is over SHA-256 hashes in constant time.
/// </summary>
public static class PlatformAuthentication
{
    public const string CookieName = "platform_token";
    public const string LoginPath = "/login";

    public static IApplicationBuilder UsePlatformAuthentication(this IApplicationBuilder app)
    {
        var keys = app.ApplicationServices.GetRequiredService<PlatformKeys>();
        if (!keys.IsProduction)
        {
            return app;
        }

        return app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (path.Equals("/health", StringComparison.OrdinalIgnoreCase))
            {
                await next(context);
                return;
            }

            if (path.StartsWithSegments("/e", StringComparison.OrdinalIgnoreCase, out var rest))
            {
                var eventKey = rest.HasValue ? rest.Value!.TrimStart('/').Split('/')[0] : null;
                if (!keys.AcceptsEventKey(eventKey))
                {
                    await Results.Json(new { status = 401, error = "Event key not found" }, statusCode: 401).ExecuteAsync(context);
                    return;
                }

                await next(context);
                return;
            }

            if (path.StartsWithSegments("/fn/register", StringComparison.OrdinalIgnoreCase))
            {
                if (!keys.AcceptsBearer(Bearer(context)))
                {
                    await Results.Json(new { error = "A valid signing key is required (Authorization: Bearer)", status = 401 }, statusCode: 401).ExecuteAsync(context);
                    return;
                }

                await next(context);
                return;
            }

            if (path.Equals(LoginPath, StringComparison.OrdinalIgnoreCase))
            {
                await LoginAsync(context, keys);
                return;
            }

            if (keys.AcceptsApiToken(Bearer(context)) || keys.AcceptsApiToken(context.Request.Cookies[CookieName]))
            {
                await next(context);
                return;
            }

            if (path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
            {
                await Results.Problem(statusCode: 401, detail: "The management API requires Authorization: Bearer <Platform:ApiToken>").ExecuteAsync(context);
                return;
            }

            await LoginFormAsync(context, message: null);
        });
    }

    private static string? Bearer(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    private static async Task LoginAsync(HttpContext context, PlatformKeys keys)
    {
        if (!HttpMethods.IsPost(context.Request.Method) || !context.Request.HasFormContentType)
        {
            await LoginFormAsync(context, message: null);
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var token = form["token"].ToString();
        if (!keys.AcceptsApiToken(token))
        {
            await LoginFormAsync(context, "That token is not the configured API token.");
            return;
        }

        context.Response.Cookies.Append(CookieName, token, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
        });
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = "/";
    }

    private static async Task LoginFormAsync(HttpContext context, string? message)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.ContentType = "text/html; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var error = message is null ? string.Empty : $"<p role=\"alert\">{WebUtility.HtmlEncode(message)}</p>";
        await context.Response.WriteAsync(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sign in</title></head><body>"
            + "<h1>Durable function platform</h1>" + error
            + $"<form method=\"post\" action=\"{LoginPath}\"><label>API token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required></label>"
            + "<button type=\"submit\">Sign in</button></form></body></html>",
            context.RequestAborted);
    }
}
