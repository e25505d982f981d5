using System.Text.Json.Nodes;
using FunctionSdk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionSdk.Tests.Endpoint;

/// <summary>Sending events from application code through the injected <see cref="IEventSender"/> (protocol.md §16).</summary>
public sealed class EventSenderTests : IAsyncLifetime
{
    private FakePlatform _platform = null!;
    private WebApplication _app = null!;
    private IEventSender _sender = null!;

    public async Task InitializeAsync()
    {
        _platform = await FakePlatform.StartAsync();
        _app = await SdkApp.StartAsync(o => o.PlatformUrl = _platform.Url, _ => { });
        _sender = _app.Services.GetRequiredService<IEventSender>();
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _platform.DisposeAsync();
    }

    [Fact]
    public async Task SendAsync_TypedEvent_PostsNameFromAttributeAndReturnsIds()
    {
        var result = await _sender.SendAsync(new OrderPlaced("o-1", 12.5m));

        Assert.Equal(["01HFAKEEVENTID000000000000"], result.Ids);
        var request = Assert.Single(_platform.Requests);
        Assert.Equal("/e/dev", request.Path);
        Assert.Matches(@"^\d+,[A-Za-z0-9+/=]+$", request.Headers["X-Inngest-Event-Id-Seed"]);
        var sent = JsonNode.Parse(request.Body)!.AsArray().Single()!;
        Assert.Equal("shop/order.placed", sent["name"]!.ToString());
        Assert.Equal("""{"orderId":"o-1","amount":12.5}""", sent["data"]!.ToJsonString());
        Assert.True(sent["ts"]!.GetValue<long>() > 1_700_000_000_000);
    }

    [Fact]
    public async Task SendAsync_SeveralWithIds_KeepsOrderAndIds()
    {
        var result = await _sender.SendAsync([new EventMessage("test/a", new { n = 1 }, Id: "key-1"), new EventMessage("test/b", null)]);

        Assert.Equal(2, result.Ids.Count);
        var sent = JsonNode.Parse(Assert.Single(_platform.Requests).Body)!.AsArray();
        Assert.Equal(("test/a", "key-1"), (sent[0]!["name"]!.ToString(), sent[0]!["id"]!.ToString()));
        Assert.Equal("{}", sent[1]!["data"]!.ToJsonString());
    }

    [Fact]
    public async Task SendAsync_PlatformFailsTwice_RetriesWithSameSeed()
    {
        var calls = 0;
        var ok = _platform.Events;
        _platform.Events = r => Interlocked.Increment(ref calls) <= 2 ? (500, """{"status":500,"error":"db down"}""") : ok(r);

        var result = await _sender.SendAsync(new OrderPlaced("o-2", 1m));

        Assert.Single(result.Ids);
        var seeds = _platform.Requests.Select(r => r.Headers["X-Inngest-Event-Id-Seed"]).ToList();
        Assert.Equal(3, seeds.Count);
        Assert.Single(seeds.Distinct());
    }

    [Fact]
    public async Task SendAsync_PlatformRejects_ThrowsWithItsMessageWithoutRetrying()
    {
        _platform.Events = _ => (401, """{"ids":[],"status":401,"error":"Event key not found"}""");

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => _sender.SendAsync(new OrderPlaced("o-3", 1m)));

        Assert.Contains("Event key not found", error.Message, StringComparison.Ordinal);
        Assert.Single(_platform.Requests);
    }

    [Fact]
    public async Task SendAsync_TypeWithoutEventName_Explains()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => _sender.SendAsync(new { x = 1 }));

        Assert.Contains("[EventName", error.Message, StringComparison.Ordinal);
    }

    [EventName("shop/order.placed")]
    public sealed record OrderPlaced(string OrderId, decimal Amount);
}
