using System.Text.Json;

namespace FunctionSdk.Tests.Golden;

/// <summary>The C# twins of the JS functions in generate.mjs, one for one.</summary>
internal static class GoldenFunctions
{
    public static void Register(DurableFunctionsBuilder functions) => functions
        .AddFunction<JsonElement>("steps", async (ctx, _) =>
        {
            var a = await ctx.Step.RunAsync("a", _ => Task.FromResult("A"));
            var b = await ctx.Step.RunAsync("b", _ => Task.FromResult(a + "B"));
            return new { b };
        }, o => o.OnEvent("test/steps"))
        .AddFunction<JsonElement>("parallel", async (ctx, _) =>
        {
            var parts = await Task.WhenAll(
                ctx.Step.RunAsync("p1", _ => Task.FromResult(1)),
                ctx.Step.RunAsync("p2", _ => Task.FromResult(2)),
                ctx.Step.RunAsync("p3", _ => Task.FromResult(3)));
            var sum = await ctx.Step.RunAsync("sum", _ => Task.FromResult(parts.Sum()));
            return new { sum };
        }, o => o.OnEvent("test/parallel"))
        .AddFunction<JsonElement>("sleeper", async (ctx, _) =>
        {
            await ctx.Step.SleepAsync("nap", TimeSpan.FromMilliseconds(90_000));
            await ctx.Step.SleepUntilAsync("nap-until", new DateTimeOffset(2026, 11, 28, 4, 46, 1, 824, TimeSpan.Zero));
            return "rested";
        }, o => o.OnEvent("test/sleep"))
        .AddFunction<JsonElement>("waiter", async (ctx, _) =>
        {
            var approval = await ctx.Step.WaitForEventAsync<Approval>(
                "wait-approve", "test/approve", TimeSpan.FromHours(1), "async.data.id == event.data.id");
            return new { approved = approval is not null, by = approval?.Data.By };
        }, o => o.OnEvent("test/wait"))
        .AddFunction<JsonElement>("invoker", async (ctx, _) =>
        {
            var child = await ctx.Step.InvokeAsync<JsonElement>("call-child", "child", new { x = 21 }, TimeSpan.FromMinutes(10));
            return new { child };
        }, o => o.OnEvent("test/invoke"))
        .AddFunction<JsonElement>("repeat", async (ctx, _) =>
        {
            var items = new List<int>();
            for (var i = 0; i < 3; i++)
            {
                var value = i;
                items.Add(await ctx.Step.RunAsync("item", _ => Task.FromResult(value)));
            }

            return items;
        }, o => o.OnEvent("test/repeat"))
        .AddFunction<JsonElement>("sender", async (ctx, _) =>
            await ctx.Step.SendEventAsync("send-it", [new EventMessage("test/other", new { n = 1 })]),
            o => o.OnEvent("test/send"))
        .AddFunction<JsonElement>("flaky", async (ctx, _) =>
        {
            await ctx.Step.RunAsync<string>("boom", _ => throw new Exception("boom"));
            return "unreachable";
        }, o => o.OnEvent("test/flaky"))
        .AddFunction<JsonElement>("fatal", async (ctx, _) =>
            await ctx.Step.RunAsync<string>("no-retry", _ => throw new NonRetriableException("card declined")),
            o => o.OnEvent("test/fatal"))
        .AddFunction<JsonElement>("later", async (ctx, _) =>
            await ctx.Step.RunAsync<string>("rate-limited", _ => throw new RetryAfterException("slow down", TimeSpan.FromSeconds(30))),
            o => o.OnEvent("test/later"))
        .AddFunction<JsonElement>("catcher", async (ctx, _) =>
        {
            try
            {
                await ctx.Step.RunAsync("boom", _ => Task.FromResult("never"));
                return null;
            }
            catch (StepFailedException e)
            {
                return new { caught = e.Message };
            }
        }, o => o.OnEvent("test/catch"))
        .AddFunction<JsonElement>("uncaught", async (ctx, _) =>
            await ctx.Step.RunAsync("boom", _ => Task.FromResult("never")),
            o => o.OnEvent("test/uncaught"))
        .AddFunction<JsonElement>("fn-error", (_, _) => throw new Exception("function level failure"), o => o.OnEvent("test/fn-error"));

    private sealed record Approval(int Id, string? By);
}
