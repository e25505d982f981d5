using System.Text.Json;
using FunctionSdk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FunctionSdk.Tests.Endpoint;

/// <summary>AddDurableFunctions / MapDurableFunctions: configuration, validation at start, mistakes caught early.</summary>
public sealed class RegistrationTests
{
    [Fact]
    public async Task AddDurableFunctions_FromConfigurationSection_BindsAndServes()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DurableFunctions:AppId"] = "from-config",
            ["DurableFunctions:EventKey"] = "key-1",
            ["DurableFunctions:SyncOnStart"] = "false",
        });
        builder.Services.AddDurableFunctions(builder.Configuration.GetSection(DurableFunctionsOptions.SectionName))
            .AddFunction<JsonElement>("hello", (_, _) => Task.FromResult<object?>("hi"), o => o.OnEvent("test/hello"));
        await using var app = builder.Build();
        app.MapDurableFunctions("/api/durable");
        await app.StartAsync();

        var options = app.Services.GetRequiredService<IOptions<DurableFunctionsOptions>>().Value;
        Assert.Equal(("from-config", "key-1", "http://127.0.0.1:8288", false), (options.AppId, options.EventKey, options.PlatformUrl, options.SyncOnStart));
        using var client = app.GetTestClient();
        var response = await client.PostAsync("/api/durable?fnId=from-config-hello&stepId=step", new StringContent(CallBuilder.For("test/hello").Body().ToJsonString()));
        Assert.Equal("\"hi\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Start_InvalidOptions_FailsWithMessagesNamingTheSettings()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddDurableFunctions(o =>
        {
            o.PlatformUrl = "not a url";
            o.SigningKey = "signkey-test-xyz";
            o.ServeUrl = "/relative";
        });
        await using var app = builder.Build();
        app.MapDurableFunctions("/api/durable");

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("DurableFunctions:AppId is required", error.Message, StringComparison.Ordinal);
        Assert.Contains("DurableFunctions:PlatformUrl \"not a url\" must be an absolute http(s) URL", error.Message, StringComparison.Ordinal);
        Assert.Contains("DurableFunctions:SigningKey", error.Message, StringComparison.Ordinal);
        Assert.Contains("DurableFunctions:ServeUrl \"/relative\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapDurableFunctions_WithoutAddDurableFunctions_FailsFast()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        using var app = builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.MapDurableFunctions("/api/durable"));

        Assert.Contains("AddDurableFunctions", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddFunction_ClassWithoutAttribute_Explains()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            new ServiceCollection().AddDurableFunctions(o => o.AppId = "a").AddFunction<Undeclared>());

        Assert.Contains("[DurableFunction(\"id\")]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddFunction_DuplicateId_Explains()
    {
        var functions = new ServiceCollection().AddDurableFunctions(o => o.AppId = "a");
        functions.AddFunction<JsonElement>("same", (_, _) => Task.FromResult<object?>(null), o => o.OnEvent("x"));

        var error = Assert.Throws<InvalidOperationException>(() =>
            functions.AddFunction<JsonElement>("same", (_, _) => Task.FromResult<object?>(null), o => o.OnEvent("y")));

        Assert.Contains("already registered", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddFunction_NoTrigger_Explains()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            new ServiceCollection().AddDurableFunctions(o => o.AppId = "a")
                .AddFunction<JsonElement>("lonely", (_, _) => Task.FromResult<object?>(null)));

        Assert.Contains("has no trigger", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddFunction_TypedEventWithoutTriggers_TriggeredByItsEventName()
    {
        await using var app = await SdkApp.StartAsync(_ => { }, f => f.AddFunction<OrderPlaced>("typed", (ctx, _) => Task.FromResult<object?>(ctx.Event.Data.OrderId)));
        using var client = app.GetTestClient();

        var response = await client.PostAsync($"{SdkApp.Path}?fnId=test-app-typed&stepId=step", new StringContent(CallBuilder.For("shop/order.placed", new { orderId = "o-5" }).Body().ToJsonString()));

        Assert.Equal("\"o-5\"", await response.Content.ReadAsStringAsync());
    }

    [EventName("shop/order.placed")]
    public sealed record OrderPlaced(string OrderId);

    public sealed class Undeclared : IDurableFunction<JsonElement>
    {
        public Task<object?> RunAsync(FunctionContext<JsonElement> context, CancellationToken cancellationToken) => Task.FromResult<object?>(null);
    }
}
