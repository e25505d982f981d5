using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Dashboard.Tests.Infrastructure;

namespace Platform.Dashboard.Tests.Browser;

/// <summary>The dashboard shares the site with the API: its routes must not take any of the API's.</summary>
[Collection(DashboardCollection.Name)]
public sealed class HostingTests(DashboardFixture fixture)
{
    [Fact]
    public async Task Routes_WithDashboardMounted_ApiIngestRegisterHealthAndSwaggerStillAnswer()
    {
        var http = fixture.Platform.Http;

        using (var health = await http.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            Assert.Equal("Healthy", (await health.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        }

        using (var send = await http.PostAsync("/e/any-key", new StringContent("""{"name":"hosting/check","data":{}}""")))
        {
            Assert.Equal(HttpStatusCode.OK, send.StatusCode);
            Assert.Equal(200, (await send.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
        }

        // A bad sync is the register endpoint's own 400, not an antiforgery or routing answer.
        using (var register = await http.PostAsync("/fn/register", new StringContent("{}")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, register.StatusCode);
            Assert.Contains("appName", (await register.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        }

        using (var runs = await http.GetAsync("/api/v1/runs?limit=1"))
        {
            Assert.Equal(HttpStatusCode.OK, runs.StatusCode);
            Assert.Equal("application/json", runs.Content.Headers.ContentType?.MediaType);
        }

        using (var missing = await http.GetAsync("/api/v1/runs/no-such-run"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/swagger/index.html")).StatusCode);
        var swagger = await http.GetFromJsonAsync<JsonElement>("/swagger/v1/swagger.json");
        var paths = swagger.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/api/v1/runs", paths);
        Assert.Contains("/e/{eventKey}", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("/_", StringComparison.Ordinal) || p.StartsWith("/runs", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/", "text/html")]
    [InlineData("/runs", "text/html")]
    [InlineData("/events", "text/html")]
    [InlineData("/apps", "text/html")]
    [InlineData("/_framework/blazor.web.js", "text/javascript")]
    [InlineData("/_content/Platform.Dashboard/dashboard.css", "text/css")]
    [InlineData("/_content/Platform.Dashboard/Platform.Dashboard.bundle.scp.css", "text/css")]
    public async Task Dashboard_PageOrAsset_IsServedFromTheAssembly(string path, string mediaType)
    {
        using var response = await fixture.Platform.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(mediaType, response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task EventPage_UnknownEvent_Answers404WithTheNotFoundPage()
    {
        using var response = await fixture.Platform.Http.GetAsync("/events/no-such-event");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("Nothing is at this address", body);
        Assert.Contains("class=\"brand\"", body); // inside the dashboard's layout, not a bare page
    }

    [Fact]
    public async Task SendEventForm_PostWithoutAntiforgeryToken_IsRejected()
    {
        var before = await CountEventsAsync();
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "send-event",
            ["Form.Name"] = "forged/event",
            ["Form.Data"] = "{}",
        });
        using var response = await fixture.Platform.Http.PostAsync("/events", form);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(before, await CountEventsAsync());
    }

    private async Task<int> CountEventsAsync()
    {
        var page = await fixture.Platform.Http.GetFromJsonAsync<JsonElement>("/api/v1/events?name=forged/event");
        return page.GetProperty("items").GetArrayLength();
    }
}
