using Platform.Dashboard.Events;

namespace Platform.Dashboard.Tests.Views;

public sealed class SendEventFormTests
{
    private const long Now = 1_795_000_000_000;

    [Fact]
    public void Check_NameAndObject_GivesTheEventToIngest()
    {
        var check = new SendEventForm { Name = " shop/order.placed ", Data = """{"orderId": "o-1", "amount": 12.5}""" }.Check(Now);

        Assert.True(check.IsValid);
        var e = Assert.Single(check.Events!);
        Assert.Equal("shop/order.placed", e.Name);
        Assert.Equal("""{"orderId": "o-1", "amount": 12.5}""", e.DataJson);
        Assert.Equal(Now, e.Ts);
    }

    [Fact]
    public void Check_BlankData_SendsAnEmptyObject()
    {
        var check = new SendEventForm { Name = "a/b", Data = "  " }.Check(Now);

        Assert.Equal("{}", Assert.Single(check.Events!).DataJson);
    }

    [Fact]
    public void Check_BlankNameAndBrokenJson_ReportsBothFields()
    {
        var check = new SendEventForm { Name = "", Data = """{"orderId": """ }.Check(Now);

        Assert.False(check.IsValid);
        Assert.StartsWith("Required", check.NameError);
        Assert.StartsWith("Not valid JSON: ", check.DataError);
    }

    [Theory]
    [InlineData("[1, 2]", "array")]
    [InlineData("\"text\"", "string")]
    [InlineData("42", "number")]
    public void Check_DataNotAnObject_SaysWhatItGot(string data, string kind)
    {
        var check = new SendEventForm { Name = "a/b", Data = data }.Check(Now);

        Assert.Null(check.NameError);
        Assert.Equal($"Expected a JSON object such as {{\"id\": 1}}, got a JSON {kind}", check.DataError);
    }

    [Fact]
    public void Check_ReservedName_ReportsTheEventApisRuleOnTheNameField()
    {
        var check = new SendEventForm { Name = "inngest/function.failed", Data = "{}" }.Check(Now);

        Assert.False(check.IsValid);
        Assert.Equal("names starting with 'inngest/' are reserved for events the platform sends", check.NameError);
        Assert.Null(check.DataError);
    }

    [Fact]
    public void Check_NulInData_ReportsTheEventApisRuleOnTheDataField()
    {
        var check = new SendEventForm { Name = "a/b", Data = """{"x": "a\u0000b"}""" }.Check(Now);

        Assert.False(check.IsValid);
        Assert.Null(check.NameError);
        Assert.Contains("NUL", check.DataError, StringComparison.OrdinalIgnoreCase);
    }
}
