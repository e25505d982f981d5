using System.Text.Encodings.Web;
using System.Text.Json;

namespace FunctionSdk.Protocol;

/// <summary>How the SDK writes JSON on the wire.</summary>
internal static class Wire
{
    /// <summary>JSON for a machine, not HTML: characters written as they are, like <c>JSON.stringify</c>.</summary>
    public static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
