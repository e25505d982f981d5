using Platform.Tests.EndToEnd;
using Platform.Tests.Executor;
using Platform.Tests.Infrastructure;

namespace Platform.Tests.Parity;

/// <summary><c>idempotency</c> with the real SDK: <c>idempotent</c> runs once per <c>data.user</c> per 24 hours.</summary>
[Collection(ParitySdkCollection.Name)]
public sealed class SdkIdempotencyTests(ParitySdkFixture fixture)
{
    [Fact]
    public async Task Idempotency_TwoEventsForOneUser_OneRunAndItsStepRanOnce()
    {
        var user = Guid.NewGuid().ToString("N");
        var first = await PlatformHttp.SendEventAsync(fixture.Http, "test/idempotent", new { user, n = 1 }, $"idem-1-{user}");
        await PlatformHttp.SendEventAsync(fixture.Http, "test/idempotent", new { user, n = 2 }, $"idem-2-{user}");
        var other = await fixture.StartAsync("idempotent", "test/idempotent", new { user = $"other-{user}", n = 3 });

        var runId = await PlatformHttp.RunIdOfEventAsync(fixture.Http, ParitySdkFixture.Prefix + "idempotent", first);
        var run = await fixture.FinalAsync(runId);
        Assert.Equal("Completed", ParitySdkFixture.Status(run));
        JsonAssert.Equal($$$"""{"user":"{{{user}}}","n":1}""", run.GetProperty("output"));
        Assert.Equal("Completed", ParitySdkFixture.Status(await fixture.FinalAsync(other)));

        Assert.Equal(1L, await fixture.Platform.ScalarAsync<long>("""
            SELECT count(*) FROM platform.runs r JOIN platform.events e ON e.id = r.event_id
             WHERE e.name = 'test/idempotent' AND e.data->>'user' = @user
            """, ("user", user)));
        Assert.Equal(["greet"], fixture.Executed("idempotent", runId));
    }
}
