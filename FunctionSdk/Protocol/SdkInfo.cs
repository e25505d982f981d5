namespace FunctionSdk.Protocol;

/// <summary>The SDK's identity on the wire.</summary>
internal static class SdkInfo
{
    public const string Version = "0.1.0";
    public const string Language = "dotnet";
    public const string Framework = "aspnetcore";

    /// <summary>Header value of <c>X-Inngest-Sdk</c> and <c>User-Agent</c>.</summary>
    public const string Header = "inngest-dotnet:v" + Version;

    /// <summary>The <c>sdk</c> field of the register body (<c>language:version</c>).</summary>
    public const string RegisterField = Language + ":v" + Version;

    public const string ReqVersion = "2";
    public const string SchemaVersion = "2024-05-24";
}
