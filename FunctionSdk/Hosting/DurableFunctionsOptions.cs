namespace FunctionSdk;

/// <summary>
/// Settings of the SDK, usually bound from the <c>DurableFunctions</c> configuration section
/// (<c>appsettings.json</c> or environment variables such as <c>DurableFunctions__AppId</c>). They are
/// validated when the app starts; a bad value stops the start with a message naming the setting.
/// </summary>
public sealed class DurableFunctionsOptions
{
    /// <summary>The usual configuration section name.</summary>
    public const string SectionName = "DurableFunctions";

    /// <summary>The platform's base URL, for app sync (<c>/fn/register</c>) and events (<c>/e/{key}</c>). Default <c>http://127.0.0.1:8288</c>.</summary>
    public string PlatformUrl { get; set; } = "http://127.0.0.1:8288";

    /// <summary>Required. The app's id on the platform; every function is known there as <c>{AppId}-{functionId}</c>.</summary>
    public string AppId { get; set; } = "";

    /// <summary>
    /// The public URL of the endpoint mapped by <c>MapDurableFunctions</c>, as the platform must call it
    /// (e.g. <c>http://orders.internal:8080/api/durable</c>). When empty, the sync on start uses the app's
    /// first listening address plus the mapped path, and a sync asked for with <c>PUT</c> uses the URL of that request.
    /// </summary>
    public string? ServeUrl { get; set; }

    /// <summary>The event key used to send events (<c>/e/{EventKey}</c>). Default <c>dev</c>.</summary>
    public string EventKey { get; set; } = "dev";

    /// <summary>
    /// The signing key (<c>signkey-&lt;env&gt;-&lt;hex&gt;</c> or bare hex). When set, every <c>GET</c> and <c>POST</c>
    /// must carry a valid <c>X-Inngest-Signature</c> (else 401), replies are signed, and the app authenticates to the
    /// platform with it. When empty the endpoint runs in dev mode: no signatures (keep it on a private network).
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>Whether to sync the app with the platform once it is listening (retried with backoff until it succeeds). Default true.</summary>
    public bool SyncOnStart { get; set; } = true;

    /// <summary>First delay between sync attempts at start; doubles up to <see cref="SyncRetryMaxDelay"/>.</summary>
    internal TimeSpan SyncRetryInitialDelay { get; set; } = TimeSpan.FromSeconds(1);

    internal TimeSpan SyncRetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a step call waits for the requested step to show up before giving up (JS: 10 s).</summary>
    internal TimeSpan StepNotFoundTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First delay between event send attempts; doubles (JS: 100 ms).</summary>
    internal TimeSpan EventRetryInitialDelay { get; set; } = TimeSpan.FromMilliseconds(100);
}
