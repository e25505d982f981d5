using FunctionSdk.Protocol;

namespace FunctionSdk.Tests.Protocol;

public sealed class StepIdsTests
{
    [Theory]
    [InlineData("a", "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8")]
    [InlineData("b", "e9d71f5ee7c92d6dc9e92ffdad17b8bd49418f98")]
    [InlineData("item", "3a7d9767b1233601ebf8b67495c6dc2ce8b8c2af")]
    [InlineData("item:1", "c1606908a12ad4caef5f90e9fcfe3b4d1253a1a8")]
    [InlineData("item:2", "a9a4b86963ddfe833f1f97110c8a7a34f394a9ec")]
    [InlineData("complete", "0737c22d3bfae812339732d14d8c7dbd6dc4e09c")]
    public void Hash_ProtocolVectors_MatchJsSdk(string id, string expected) =>
        Assert.Equal(expected, StepIds.Hash(id));

    [Fact]
    public void Hash_NonAsciiId_HashesUtf8Bytes() =>
        // sha1 of the UTF-8 bytes c3 a9 ("é"), as `echo -n é | sha1sum` computes it.
        Assert.Equal("bf15be717ac1b080b4f1c456692825891ff5073d", StepIds.Hash("é"));
}
