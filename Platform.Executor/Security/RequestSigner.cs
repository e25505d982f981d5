namespace Platform.Executor.Security;

/// <summary>
/// Prepares an outgoing request body to an app (protocol.md §5.2): in production mode the body is canonicalized
/// (JCS), signed over exactly those bytes with the primary key, and sent as is; in dev mode it passes through.
/// </summary>
public sealed class RequestSigner(PlatformKeys keys, TimeProvider time)
{
    public const string SignatureHeader = "X-Inngest-Signature";
    public const string ServerKindHeader = "X-Inngest-Server-Kind";

    public bool IsProduction => keys.IsProduction;

    /// <summary><c>cloud</c> with keys, <c>dev</c> without.</summary>
    public string ServerKind => keys.IsProduction ? "cloud" : "dev";

    /// <summary>The bytes to send and, in production mode, the signature header value.</summary>
    public (byte[] Body, string? Signature) Prepare(byte[] body)
    {
        if (keys.SigningKey is not { } key)
        {
            return (body, null);
        }

        var canonical = body.Length == 0 ? body : Jcs.Canonicalize(body);
        return (canonical, SigningKeys.Signature(key, canonical, time.GetUtcNow().ToUnixTimeSeconds()));
    }
}
