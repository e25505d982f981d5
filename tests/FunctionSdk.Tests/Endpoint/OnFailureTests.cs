using System.Collections.Concurrent;
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

/// <summary>onFailure: the second function <c>{id}-failure</c> the SDK registers, and what its handler gets (protocol.md §6.4, §14.6).</summary>
public sealed class OnFailureTests : IAsyncLifetime
{
    private FakePlatform _platform = null!;
    private WebApplication _app = null!;
    private HttpClient _client = null!;
    private readonly ConcurrentQueue<FailureContext<GreetRequested>> _lambdaCalls = new();

    public async Task InitializeAsync()
    {
        _platform = await FakePlatform.StartAsync();
        _app = await SdkApp.StartAsync(
            o =>
            {
                o.PlatformUrl = _platform.Url;
                o.ServeUrl = "http://probe.test/api/durable";
            },
            functions => functions
                .AddFunction<JsonElement>("retrier", (_, _) => throw new InvalidOperationException("boom"), o => o
                    .OnEvent("test/retry")
                    .OnFailure<GreetRequested>((context, _) =>
                    {
                        _lambdaCalls.Enqueue(context);
                        return Task.CompletedTask;
                    }))
                .AddFunction<Greeting>(o => o.OnFailure<GreetingFailed>(retries: 3)),
            services: services => services.AddSingleton(new Greeter("Hi")).AddSingleton<FailureRecorder>());
        _client = _app.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
        await _platform.DisposeAsync();
    }

    [Fact]
    public async Task Put_FunctionWithOnFailure_RegistersTheFailureFunctionAsTheJsSdkDoes()
    {
        var response = await _client.PutAsync(SdkApp.Path, null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var functions = JsonNode.Parse(Assert.Single(_platform.To("/fn/register")).Body)!["functions"]!.AsArray();
        Assert.Equal(
            ["test-app-greet", "test-app-greet-failure", "test-app-retrier", "test-app-retrier-failure"],
            functions.Select(f => f!["id"]!.ToString()));
        // Byte for byte the JS SDK 4.24.0's config for `onFailure` (protocol.md §6.4), retries 1 by default.
        Assert.Equal(
            """{"id":"test-app-retrier-failure","name":"retrier (failure)","triggers":[{"event":"inngest/function.failed","expression":"event.data.function_id == 'test-app-retrier'"}],"steps":{"step":{"id":"step","name":"step","runtime":{"type":"http","url":"http://probe.test/api/durable?fnId=test-app-retrier-failure&stepId=step"},"retries":{"attempts":1}}}}""",
            functions[3]!.ToJsonString(Wire.Options));
        var greetFailure = functions[1]!;
        Assert.Equal("Greet someone (failure)", greetFailure["name"]!.ToString());
        Assert.Equal("event.data.function_id == 'test-app-greet'", greetFailure["triggers"]![0]!["expression"]!.ToString());
        Assert.Equal(3, greetFailure["steps"]!["step"]!["retries"]!["attempts"]!.GetValue<int>());
        Assert.Equal("""[{"event":"test/greet"}]""", functions[0]!["triggers"]!.ToJsonString());
    }

    [Fact]
    public async Task Post_FunctionFailedEvent_LambdaHandlerGetsTheErrorAndTheOriginalEvent()
    {
        var response = await CallAsync("test-app-retrier-failure", FailedEvent("test-app-retrier"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("null", await response.Content.ReadAsStringAsync());
        var context = Assert.Single(_lambdaCalls);
        Assert.Equal(new FunctionError("Error", "boom on attempt 2", "Error: boom\n    at retrier"), context.Error);
        Assert.Equal(("test/greet", "Ada", "01HORIGINAL00000000000001"), (context.Event.Name, context.Event.Data.Name, context.Event.Id));
        Assert.Equal(("01HFAILEDRUN0000000000001", "test-app-retrier"), (context.FailedRunId, context.FunctionId));
        Assert.Equal("inngest/function.failed", context.FailedEvent.Name);
        Assert.Equal("01HRUNTEST0000000000000001", context.Run.RunId);
    }

    [Fact]
    public async Task Post_FunctionFailedEvent_ClassHandlerRunsItsStepsWithTheError()
    {
        var first = await CallAsync("test-app-greet-failure", FailedEvent("test-app-greet"));

        // The handler is a durable function: its step runs and is reported, as any function's.
        Assert.Equal(HttpStatusCode.PartialContent, first.StatusCode);
        var op = JsonNode.Parse(await first.Content.ReadAsStringAsync())!.AsArray().Single()!;
        Assert.Equal(("StepRun", "record-failure"), (op["op"]!.ToString(), op["displayName"]!.ToString()));
        Assert.Equal("\"Ada: Error: boom on attempt 2\"", op["data"]!.ToJsonString());
        Assert.Equal(["Ada: Error: boom on attempt 2"], _app.Services.GetRequiredService<FailureRecorder>().Lines);
    }

    [Fact]
    public async Task Post_FailureHandlerWithoutAnOriginalEvent_FailsWithoutRetry()
    {
        var response = await CallAsync("test-app-retrier-failure", CallBuilder.For("inngest/function.failed", new { function_id = "test-app-retrier" }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("true", response.Headers.GetValues("X-Inngest-No-Retry").Single());
        Assert.Contains("data.event", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(_lambdaCalls);
    }

    [Fact]
    public void OnFailure_ClassWithoutTheInterface_Throws()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new FunctionOptions().OnFailure<Greeter>());

        Assert.Contains("IFailureHandler<TEvent>", error.Message, StringComparison.Ordinal);
    }

    private static CallBuilder FailedEvent(string functionSlug) => CallBuilder.For("inngest/function.failed", new
    {
        function_id = functionSlug,
        run_id = "01HFAILEDRUN0000000000001",
        error = new { name = "Error", message = "boom on attempt 2", stack = "Error: boom\n    at retrier" },
        @event = new { name = "test/greet", data = new { name = "Ada" }, id = "01HORIGINAL00000000000001", ts = 1700000000000 },
    });

    private Task<HttpResponseMessage> CallAsync(string slug, CallBuilder call) =>
        _client.PostAsync(
            $"{SdkApp.Path}?fnId={slug}&stepId=step",
            new StringContent(call.Body().ToJsonString(), Encoding.UTF8, "application/json"));
}

public sealed class FailureRecorder
{
    public ConcurrentQueue<string> Lines { get; } = new();
}

public sealed class GreetingFailed(FailureRecorder recorder) : IFailureHandler<GreetRequested>
{
    public async Task RunAsync(FailureContext<GreetRequested> context, CancellationToken cancellationToken) =>
        await context.Step.RunAsync("record-failure", _ =>
        {
            var line = $"{context.Event.Data.Name}: {context.Error.Name}: {context.Error.Message}";
            recorder.Lines.Enqueue(line);
            return Task.FromResult(line);
        });
}
