using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using FunctionSdk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionSdk.Tests.Endpoint;

/// <summary>
/// A whole run of a realistic function over real HTTP (Kestrel on 127.0.0.1), driven call by call by
/// <see cref="MiniExecutor"/>: every step kind, parallel steps, a retried step, a step that fails for good and
/// is compensated, and an event sent to the platform once.
/// </summary>
public sealed class FullRunTests : IAsyncLifetime
{
    private FakePlatform _platform = null!;
    private WebApplication _app = null!;
    private HttpClient _client = null!;
    private readonly Payments _payments = new();

    public async Task InitializeAsync()
    {
        _platform = await FakePlatform.StartAsync();
        _app = await SdkApp.StartAsync(
            o => o.PlatformUrl = _platform.Url,
            f => f.AddFunction<ProcessOrder>(),
            kestrel: true,
            services: s => s.AddSingleton(_payments));
        _client = new HttpClient { BaseAddress = new Uri(_app.Urls.Single()) };
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
        await _platform.DisposeAsync();
    }

    [Fact]
    public async Task OrderFlow_DrivenToTheEnd_CompletesWithEachSideEffectOnce()
    {
        var executor = new MiniExecutor(_client, SdkApp.Path, "test-app-process-order")
        {
            Resolve = op => op["op"]!.ToString() switch
            {
                "WaitForEvent" => new JsonObject
                {
                    ["name"] = "shop/order.shipped",
                    ["data"] = new JsonObject { ["orderId"] = "o-42", ["carrier"] = "ups" },
                    ["id"] = "01HSHIP",
                    ["ts"] = 1700000001000,
                },
                "InvokeFunction" => new JsonObject { ["number"] = $"R-{op["opts"]!["payload"]!["data"]!["orderId"]}" },
                _ => null,
            },
        };
        var @event = new JsonObject
        {
            ["name"] = "shop/order.placed",
            ["data"] = new JsonObject { ["orderId"] = "o-42", ["amount"] = 120.5 },
            ["id"] = "01HORDER",
            ["ts"] = 1700000000000,
            ["user"] = new JsonObject(),
        };

        var (status, output) = await executor.RunAsync(@event, "01HRUNORDER");

        Assert.True(status == 200, string.Join(" | ", executor.Calls));
        Assert.Equal(
            """{"orderId":"o-42","charge":"ch-1","reserved":["a","b"],"carrier":"ups","receipt":"R-o-42","notified":1,"compensated":"refund ch-1","announced":1}""",
            output!.ToJsonString());

        // Each step body ran once, except "notify" (failed once, retried) and "ship-label" (failed for good after its retries).
        Assert.Equal(["charge"], _payments.Charges.Select(c => c.Step));
        Assert.Equal("01HRUNORDER:" + FunctionSdk.Protocol.StepIds.Hash("charge"), _payments.Charges.Single().IdempotencyKey);
        Assert.Equal(2, _payments.NotifyAttempts);
        Assert.Equal(4, _payments.LabelAttempts);
        Assert.Single(_platform.To("/e/"));
        Assert.Contains("step#0 -> 206 StepRun:reserve-a", executor.Calls);
        Assert.Contains("step#0 -> 206 StepRun:reserve-b", executor.Calls);
        Assert.Contains("discovery#1 -> 206 StepRun:notify", executor.Calls);
        Assert.Contains("discovery#3 -> 206 StepFailed:ship-label", executor.Calls);
    }

    public sealed class Payments
    {
        public ConcurrentQueue<(string Step, string IdempotencyKey)> Charges { get; } = new();

        public int NotifyAttempts;

        public int LabelAttempts;
    }

    [EventName("shop/order.placed")]
    public sealed record OrderPlaced(string OrderId, decimal Amount);

    [EventName("shop/order.shipped")]
    public sealed record OrderShipped(string OrderId, string Carrier);

    public sealed record Receipt(string Number);

    [DurableFunction("process-order", Retries = 3)]
    public sealed class ProcessOrder(Payments payments) : IDurableFunction<OrderPlaced>
    {
        public async Task<object?> RunAsync(FunctionContext<OrderPlaced> context, CancellationToken cancellationToken)
        {
            var order = context.Event.Data;
            var charge = await context.Step.RunAsync("charge", (step, _) =>
            {
                payments.Charges.Enqueue(("charge", step.IdempotencyKey));
                return Task.FromResult("ch-1");
            });

            var reserved = await Task.WhenAll(
                context.Step.RunAsync("reserve-a", _ => Task.FromResult("a")),
                context.Step.RunAsync("reserve-b", _ => Task.FromResult("b")));

            var shipped = await context.Step.WaitForEventAsync<OrderShipped>(
                "wait-shipped", TimeSpan.FromDays(2), "async.data.orderId == event.data.orderId");
            await context.Step.SleepAsync("cool-off", TimeSpan.FromHours(1));
            var receipt = await context.Step.InvokeAsync<Receipt>("make-receipt", "receipt", new { orderId = order.OrderId });

            var notified = await context.Step.RunAsync("notify", (step, _) =>
            {
                Interlocked.Increment(ref payments.NotifyAttempts);
                return step.Attempt == 0 ? throw new HttpRequestException("mail server busy") : Task.FromResult(1);
            });

            string compensated;
            try
            {
                await context.Step.RunAsync<string>("ship-label", _ =>
                {
                    Interlocked.Increment(ref payments.LabelAttempts);
                    throw new InvalidOperationException("label printer offline");
                });
                compensated = "none";
            }
            catch (StepFailedException)
            {
                compensated = await context.Step.RunAsync("refund", _ => Task.FromResult($"refund {charge}"));
            }

            var announced = await context.Step.SendEventAsync("announce", new OrderShipped(order.OrderId, shipped!.Data.Carrier));
            return new
            {
                order.OrderId,
                charge,
                reserved,
                carrier = shipped.Data.Carrier,
                receipt = receipt.Number,
                notified,
                compensated,
                announced = announced.Ids.Count,
            };
        }
    }
}
