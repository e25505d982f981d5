using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Platform.Dashboard.Tests.Infrastructure;

/// <summary>
/// A small app that the platform calls, speaking the wire protocol (protocol.md §6, §7, §10) by hand on its own
/// Kestrel port. App id <c>shop</c>, four functions:
/// <list type="bullet">
/// <item><c>shop-checkout</c> (<c>shop/order.placed</c>): two steps, <c>reserve-stock</c> then <c>charge-card</c>.</item>
/// <item><c>shop-onboarding</c> (<c>shop/user.signup</c>): a step, then <c>step.sleep("wait-a-day", "1d")</c>.</item>
/// <item><c>shop-capture-payment</c> (<c>shop/payment.due</c>): step <c>capture</c> fails its first attempt, then succeeds.</item>
/// <item><c>shop-sync-inventory</c> (<c>shop/inventory.sync</c>): fails outside any step, no retries.</item>
/// </list>
/// </summary>
public sealed class ShopApp : IAsyncDisposable
{
    public const string AppName = "shop";
    private readonly WebApplication _app;
    private readonly string _platformUrl;
    private int _syncs;

    private ShopApp(WebApplication app, string url, string platformUrl)
    {
        _app = app;
        Url = url;
        _platformUrl = platformUrl;
    }

    /// <summary>The app's one endpoint, <c>http://127.0.0.1:&lt;port&gt;/api/inngest</c>.</summary>
    public string Url { get; }

    /// <summary>How many times the app was asked to sync (<c>PUT</c>).</summary>
    public int SyncCount => Volatile.Read(ref _syncs);

    /// <summary>The hashed step id the SDKs use: SHA-1 of the user's step id, 40 lowercase hex.</summary>
    public static string StepId(string id) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(id)));

    public static async Task<ShopApp> StartAsync(string platformUrl)
    {
        var port = Platform.Tests.Infrastructure.PlatformApp.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var shop = new ShopApp(app, $"http://127.0.0.1:{port}/api/inngest", platformUrl);
        app.MapGet("/api/inngest", () => Results.Json(new { mode = "dev", function_count = 4, has_event_key = false, has_signing_key = false }));
        app.MapPut("/api/inngest", shop.SyncAsync);
        app.MapPost("/api/inngest", shop.CallAsync);
        await app.StartAsync();
        return shop;
    }

    private JsonObject Function(string id, string name, string eventName, int retries, JsonObject? extra = null)
    {
        var slug = $"{AppName}-{id}";
        var fn = new JsonObject
        {
            ["id"] = slug,
            ["name"] = name,
            ["triggers"] = new JsonArray(new JsonObject { ["event"] = eventName }),
            ["steps"] = new JsonObject
            {
                ["step"] = new JsonObject
                {
                    ["id"] = "step",
                    ["name"] = "step",
                    ["runtime"] = new JsonObject { ["type"] = "http", ["url"] = $"{Url}?fnId={slug}&stepId=step" },
                    ["retries"] = new JsonObject { ["attempts"] = retries },
                },
            },
        };
        foreach (var (key, value) in extra ?? new JsonObject())
        {
            fn[key] = value?.DeepClone();
        }

        return fn;
    }

    /// <summary><c>PUT</c>: register with the platform (<c>POST /fn/register</c>) and relay its answer (protocol.md §6.5).</summary>
    private async Task SyncAsync(HttpContext context)
    {
        Interlocked.Increment(ref _syncs);
        var payload = new JsonObject
        {
            ["url"] = Url,
            ["deployType"] = "ping",
            ["appName"] = AppName,
            ["framework"] = "aspnetcore",
            ["sdk"] = "dotnet:test",
            ["v"] = "0.1",
            ["appVersion"] = "2026.11.28",
            ["functions"] = new JsonArray(
                Function("checkout", "Checkout", "shop/order.placed", 3,
                    new JsonObject { ["concurrency"] = new JsonArray(new JsonObject { ["limit"] = 10, ["key"] = "event.data.customerId" }) }),
                Function("onboarding", "Onboarding emails", "shop/user.signup", 3),
                Function("capture-payment", "Capture payment", "shop/payment.due", 3),
                Function("sync-inventory", "Sync inventory", "shop/inventory.sync", 0)),
        };
        using var http = new HttpClient();
        using var response = await http.PostAsync(_platformUrl + "/fn/register",
            new StringContent(payload.ToJsonString(), Encoding.UTF8, "application/json"), context.RequestAborted);
        var body = await response.Content.ReadAsStringAsync(context.RequestAborted);
        var ok = response.IsSuccessStatusCode;
        context.Response.Headers["X-Inngest-Sdk"] = "inngest-js:v4.24.0";
        context.Response.Headers["X-Inngest-Sync-Kind"] = "out_of_band";
        await Results.Json(new { message = ok ? "Successfully registered" : body, modified = ok }, statusCode: (int)response.StatusCode)
            .ExecuteAsync(context);
    }

    /// <summary><c>POST ?fnId=&amp;stepId=</c>: replay the function over the memoized steps and run or report the next one.</summary>
    private async Task CallAsync(HttpContext context)
    {
        var fnId = context.Request.Query["fnId"].ToString();
        using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        var root = body.RootElement;
        var steps = root.TryGetProperty("steps", out var s) && s.ValueKind == JsonValueKind.Object
            ? s.EnumerateObject().Select(p => p.Name).ToHashSet()
            : [];
        var attempt = root.TryGetProperty("ctx", out var ctx) && ctx.TryGetProperty("attempt", out var a) ? a.GetInt32() : 0;
        var data = root.GetProperty("event").GetProperty("data");
        string Data(string name) => data.TryGetProperty(name, out var v) ? v.ToString() : "";
        bool Done(string step) => steps.Contains(StepId(step));

        switch (fnId)
        {
            case "shop-checkout":
                if (!Done("reserve-stock"))
                {
                    await Task.Delay(120, context.RequestAborted);
                    await ReplyAsync(context, 206, Ops(StepRun("reserve-stock", new JsonObject { ["sku"] = Data("sku"), ["reserved"] = true, ["warehouse"] = "ams-1" })));
                }
                else if (!Done("charge-card"))
                {
                    await Task.Delay(250, context.RequestAborted);
                    await ReplyAsync(context, 206, Ops(StepRun("charge-card", new JsonObject { ["chargeId"] = "ch_" + Data("orderId"), ["amount"] = Data("amount"), ["currency"] = "EUR" })));
                }
                else
                {
                    await ReplyAsync(context, 200, new JsonObject { ["orderId"] = Data("orderId"), ["status"] = "paid" });
                }

                break;

            case "shop-onboarding":
                if (!Done("send-welcome"))
                {
                    await Task.Delay(80, context.RequestAborted);
                    await ReplyAsync(context, 206, Ops(StepRun("send-welcome", new JsonObject { ["sent"] = true, ["to"] = Data("email"), ["template"] = "welcome" })));
                }
                else if (!Done("wait-a-day"))
                {
                    await ReplyAsync(context, 206, Ops(new JsonObject
                    {
                        ["id"] = StepId("wait-a-day"),
                        ["op"] = "Sleep",
                        ["name"] = "1d",
                        ["displayName"] = "wait-a-day",
                        ["opts"] = new JsonObject(),
                        ["userland"] = new JsonObject { ["id"] = "wait-a-day" },
                        ["data"] = null,
                    }));
                }
                else
                {
                    await ReplyAsync(context, 200, new JsonObject { ["onboarded"] = true });
                }

                break;

            case "shop-capture-payment":
                if (!Done("capture"))
                {
                    await Task.Delay(60, context.RequestAborted);
                    if (attempt == 0)
                    {
                        var error = Error("GatewayTimeoutError", "The payment gateway did not answer within 5 s");
                        await ReplyAsync(context, 206, Ops(new JsonObject
                        {
                            ["id"] = StepId("capture"),
                            ["op"] = "StepError",
                            ["name"] = "capture",
                            ["displayName"] = "capture",
                            ["opts"] = new JsonObject(),
                            ["userland"] = new JsonObject { ["id"] = "capture" },
                            ["error"] = error,
                            ["data"] = null,
                        }), noRetry: false);
                    }
                    else
                    {
                        await ReplyAsync(context, 206, Ops(StepRun("capture", new JsonObject { ["captured"] = true, ["invoice"] = Data("invoice") })));
                    }
                }
                else
                {
                    await ReplyAsync(context, 200, new JsonObject { ["captured"] = true });
                }

                break;

            case "shop-sync-inventory":
                await ReplyAsync(context, 400, Error("InventoryApiError", "The inventory API answered 503 Service Unavailable"), noRetry: true);
                break;

            default:
                await ReplyAsync(context, 500, Error("Error", $"Function \"{fnId}\" was not found in this app"), noRetry: false);
                break;
        }
    }

    private static JsonObject StepRun(string id, JsonNode data) => new()
    {
        ["id"] = StepId(id),
        ["op"] = "StepRun",
        ["name"] = id,
        ["displayName"] = id,
        ["opts"] = new JsonObject(),
        ["userland"] = new JsonObject { ["id"] = id },
        ["data"] = data,
    };

    private static JsonArray Ops(params JsonNode[] ops) => new(ops);

    private static JsonObject Error(string name, string message) => new()
    {
        ["name"] = name,
        ["message"] = message,
        ["stack"] = $"{name}: {message}\n    at handler (shop/functions.ts:42:11)\n    at async execute (inngest/engine.js:118:7)",
        ["__serialized"] = true,
    };

    private static async Task ReplyAsync(HttpContext context, int status, JsonNode body, bool? noRetry = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers["X-Inngest-Sdk"] = "inngest-js:v4.24.0";
        context.Response.Headers["X-Inngest-Req-Version"] = "2";
        if (noRetry is { } n)
        {
            context.Response.Headers["X-Inngest-No-Retry"] = n ? "true" : "false";
        }

        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
