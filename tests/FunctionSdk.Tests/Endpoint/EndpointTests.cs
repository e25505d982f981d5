using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FunctionSdk.Protocol;
using FunctionSdk.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace FunctionSdk.Tests.Endpoint;

/// <summary>The HTTP side of the protocol: methods, status codes, headers (protocol.md §3, §4.2, §10.1).</summary>
public sealed class EndpointTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _app = await SdkApp.StartAsync(_ => { }, functions => functions
            .AddFunction<JsonElement>("steps", async (ctx, _) =>
            {
                var a = await ctx.Step.RunAsync("a", _ => Task.FromResult("A"));
                var b = await ctx.Step.RunAsync("b", _ => Task.FromResult(a + "B"));
                return new { b };
            }, o => o.OnEvent("test/steps"))
            .AddFunction<JsonElement>("fails", (_, _) => throw new InvalidOperationException("function level failure"), o => o.OnEvent("test/fails"))
            .AddFunction<Greeting>(),
            services: services => services.AddSingleton(new Greeter("Hello")));
        _client = _app.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Get_DevMode_Introspection()
    {
        var response = await _client.GetAsync(SdkApp.Path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(SdkInfo.Header, response.Headers.GetValues("X-Inngest-Sdk").Single());
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(
            """{"extra":{"native_crypto":true},"has_event_key":true,"has_signing_key":false,"function_count":3,"mode":"dev","schema_version":"2024-05-24"}""",
            body.ToJsonString());
    }

    [Fact]
    public async Task Delete_MethodNotAllowed()
    {
        var response = await _client.DeleteAsync(SdkApp.Path);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("""{"message":"Method not allowed"}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Post_EmptyBody_BadRequestWithMessage()
    {
        var response = await _client.PostAsync($"{SdkApp.Path}?fnId=test-app-steps&stepId=step", new StringContent(""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("empty body", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_InvalidJson_BadRequestWithMessage()
    {
        var response = await _client.PostAsync($"{SdkApp.Path}?fnId=test-app-steps&stepId=step", new StringContent("{nope"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid JSON", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_NoEventObject_BadRequest()
    {
        var response = await _client.PostAsync($"{SdkApp.Path}?fnId=test-app-steps&stepId=step", new StringContent("""{"steps":{}}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("no \\\"event\\\" object", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_MissingFnId_BadRequest()
    {
        var response = await PostAsync("", CallBuilder.For("test/steps"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task Post_UnknownFunction_500LikeJsSdkWithoutNoRetryHeader()
    {
        var response = await PostAsync("test-app-nope", CallBuilder.For("test/steps"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Inngest-No-Retry"));
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("internal", body["type"]!.ToString());
        Assert.Equal("Function \"test-app-nope\" was not found in this app; is the app synced correctly?", body["message"]!.ToString());
    }

    [Fact]
    public async Task Post_Discovery_206WithProtocolHeaders()
    {
        var response = await PostAsync("test-app-steps", CallBuilder.For("test/steps"));

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal("2", response.Headers.GetValues("X-Inngest-Req-Version").Single());
        Assert.Equal(SdkInfo.Header, response.Headers.GetValues("X-Inngest-Sdk").Single());
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.False(response.Headers.Contains("X-Inngest-No-Retry"));
        var op = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray().Single()!;
        Assert.Equal(("StepRun", StepIds.Hash("a"), "A"), (op["op"]!.ToString(), op["id"]!.ToString(), op["data"]!.ToString()));
    }

    [Fact]
    public async Task Post_StepIdFromHeaderWhenQueryHasNone_RunsThatStep()
    {
        var call = CallBuilder.For("test/steps").Stored("a", "A").DisableImmediateExecution();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{SdkApp.Path}?fnId=test-app-steps")
        {
            Content = new StringContent(call.Body().ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Inngest-Step-Id", StepIds.Hash("b"));

        var response = await _client.SendAsync(request);

        var op = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray().Single()!;
        Assert.Equal(("StepRun", "AB"), (op["op"]!.ToString(), op["data"]!.ToString()));
    }

    [Fact]
    public async Task Post_AllStepsStored_200WithOutput()
    {
        var response = await PostAsync("test-app-steps", CallBuilder.For("test/steps").Stored("a", "A").Stored("b", "AB"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"b":"AB"}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Post_FunctionThrows_500RetriableThen400OnFinalAttempt()
    {
        var retriable = await PostAsync("test-app-fails", CallBuilder.For("test/fails"));
        Assert.Equal(HttpStatusCode.InternalServerError, retriable.StatusCode);
        Assert.Equal("false", retriable.Headers.GetValues("X-Inngest-No-Retry").Single());

        var final = await PostAsync("test-app-fails", CallBuilder.For("test/fails").Attempt(3, maxAttempts: 4));
        Assert.Equal(HttpStatusCode.BadRequest, final.StatusCode);
        Assert.Equal("true", final.Headers.GetValues("X-Inngest-No-Retry").Single());
        var error = JsonNode.Parse(await final.Content.ReadAsStringAsync())!;
        Assert.Equal(("InvalidOperationException", "function level failure", true),
            (error["name"]!.ToString(), error["message"]!.ToString(), error["__serialized"]!.GetValue<bool>()));
    }

    [Fact]
    public async Task Post_ClassFunction_GetsServicesAndTypedEvent()
    {
        var response = await PostAsync("test-app-greet", CallBuilder.For("test/greet", new { name = "Ada" }).Stored("greet", "Hello, Ada"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"Hello, Ada!\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Post_ClassFunction_StepRunsWithInjectedService()
    {
        var response = await PostAsync("test-app-greet", CallBuilder.For("test/greet", new { name = "Ada" }));

        var op = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray().Single()!;
        Assert.Equal("Hello, Ada", op["data"]!.ToString());
    }

    [Fact]
    public async Task Post_EventOfAnotherTrigger_400NoRetry()
    {
        var response = await PostAsync("test-app-steps", CallBuilder.For("test/other"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("true", response.Headers.GetValues("X-Inngest-No-Retry").Single());
        Assert.Contains("EventValidationError", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_RequestedStepMissing_500StepNotFound()
    {
        var response = await PostAsync("test-app-steps", CallBuilder.For("test/steps").Requesting("gone"));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("false", response.Headers.GetValues("X-Inngest-No-Retry").Single());
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(StepIds.Hash("gone"), body["requestedStep"]!.ToString());
    }

    private Task<HttpResponseMessage> PostAsync(string fnId, CallBuilder call) =>
        _client.PostAsync(
            fnId.Length == 0 ? $"{SdkApp.Path}?stepId={call.StepIdQuery}" : $"{SdkApp.Path}?fnId={fnId}&stepId={call.StepIdQuery}",
            new StringContent(call.Body().ToJsonString(), Encoding.UTF8, "application/json"));
}

public sealed record Greeter(string Salutation);

public sealed record GreetRequested(string Name);

[DurableFunction("greet", Name = "Greet someone", Retries = 2)]
[EventTrigger("test/greet")]
public sealed class Greeting(Greeter greeter) : IDurableFunction<GreetRequested>
{
    public async Task<object?> RunAsync(FunctionContext<GreetRequested> context, CancellationToken cancellationToken)
    {
        var text = await context.Step.RunAsync("greet", _ => Task.FromResult($"{greeter.Salutation}, {context.Event.Data.Name}"));
        return text + "!";
    }
}
