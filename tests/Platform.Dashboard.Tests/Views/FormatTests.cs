using System.Text.Json;
using Platform.Dashboard.Apps;
using Platform.Dashboard.Layout;
using Platform.Dashboard.Runs;
using Platform.Dashboard.Shared;

namespace Platform.Dashboard.Tests.Views;

public sealed class FormatTests
{
    [Theory]
    [InlineData(0, "0 ms")]
    [InlineData(850, "850 ms")]
    [InlineData(4_219, "4.21 s")]
    [InlineData(12_500, "12.5 s")]
    [InlineData(185_000, "3m 05s")]
    [InlineData(7_800_000, "2h 10m")]
    [InlineData(273_600_000, "3d 4h")]
    [InlineData(-5, "0 ms")]
    public void Duration_Milliseconds_ShortHumanText(long ms, string expected) =>
        Assert.Equal(expected, Format.Duration(TimeSpan.FromMilliseconds(ms)));

    [Fact]
    public void Json_Object_IndentedWithoutEscapingMarkup()
    {
        var value = JsonDocument.Parse("""{"a":1,"html":"<b>"}""").RootElement;

        Assert.Equal("{\n  \"a\": 1,\n  \"html\": \"<b>\"\n}", Format.Json(value).ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Json_Missing_IsNull()
    {
        Assert.Equal("null", Format.Json(null));
        Assert.Equal("null", Format.Json(default(JsonElement)));
    }

    [Fact]
    public void ShortTime_SameDay_OnlyTheClock()
    {
        var now = new DateTimeOffset(2026, 11, 28, 18, 0, 0, TimeSpan.Zero);

        Assert.Equal("09:05:01", Format.ShortTime(now.Date.AddHours(9).AddMinutes(5).AddSeconds(1), now));
        Assert.Equal("Nov 27, 23:59:00", Format.ShortTime(new DateTimeOffset(2026, 11, 27, 23, 59, 0, TimeSpan.Zero), now));
        Assert.Equal("2025-12-31 10:00", Format.ShortTime(new DateTimeOffset(2025, 12, 31, 10, 0, 0, TimeSpan.Zero), now));
    }

    [Fact]
    public void StatusClass_Status_LowerCaseCssClass() => Assert.Equal("st-sleeping", Format.StatusClass("Sleeping"));

    [Fact]
    public void ErrorSummary_StoredStepFailure_UnwrapsTheError()
    {
        var stored = JsonDocument.Parse("""{"error":{"name":"TypeError","message":"x is undefined","stack":"TypeError: x\n at f"}}""").RootElement;

        Assert.Equal(new ErrorSummary("TypeError", "x is undefined", "TypeError: x\n at f"), ErrorSummary.From(stored));
    }

    [Fact]
    public void ErrorSummary_UnusualShapes_ShownAsTheyAre()
    {
        Assert.Equal(new ErrorSummary("Error", "plain text", null), ErrorSummary.From(JsonDocument.Parse("\"plain text\"").RootElement));
        Assert.Equal(new ErrorSummary("Error", """{"code":7}""", null), ErrorSummary.From(JsonDocument.Parse("""{"code":7}""").RootElement));
        Assert.Null(ErrorSummary.From(null));
    }

    [Fact]
    public void FunctionView_Config_ListsTriggersAndFlowControlSettings()
    {
        var triggers = JsonDocument.Parse("""[{"event":"shop/order.placed","expression":"event.data.total > 10"},{"cron":"TZ=Europe/Paris 0 9 * * 1-5"}]""").RootElement;
        var config = JsonDocument.Parse("""{"id":"shop-x","name":"X","triggers":[],"steps":{},"concurrency":[{"limit":5}],"throttle":{"limit":1,"period":"1m"},"priority":null}""").RootElement;

        Assert.Equal(
            [new TriggerView("event", "shop/order.placed", "event.data.total > 10"), new TriggerView("cron", "TZ=Europe/Paris 0 9 * * 1-5", null)],
            FunctionView.TriggersOf(triggers));
        Assert.Equal(["concurrency", "throttle"], FunctionView.SettingsOf(config));
    }

    [Theory]
    [InlineData("", "Runs")]
    [InlineData("runs?status=Failed", "Runs")]
    [InlineData("runs/01JRUN", "Runs")]
    [InlineData("events/01JEVENT", "Events")]
    [InlineData("apps", "Apps")]
    public void NavSection_Path_ActiveSection(string path, string expected) =>
        Assert.Equal(expected, Assert.Single(MainLayout.Sections, s => s.Matches(path)).Label);
}
