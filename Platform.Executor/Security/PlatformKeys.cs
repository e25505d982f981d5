using Microsoft.Extensions.Configuration;

namespace Platform.Executor.Security;

/// <summary>
/// The platform's keys (configuration section <c>Platform</c>): <c>SigningKey</c>, <c>SigningKeyFallback</c>,
/// <c>EventKeys</c> (array), <c>ApiToken</c>. No signing key and no event key ⇒ dev mode (nothing is signed or
/// checked); any of them ⇒ production mode, where a signing key is required. Event keys and the API token are
/// kept only as hashes, and may be configured as <c>sha256:&lt;hex&gt;</c> so the configuration holds no plaintext
/// either; the signing keys are needed for HMAC and are never logged (<see cref="ToString"/>).
/// </summary>
public sealed class PlatformKeys
{
    public const string Section = "Platform";

    private PlatformKeys(string? signingKey, string? signingKeyFallback, IReadOnlyList<HashedSecret> eventKeys, HashedSecret? apiToken)
    {
        SigningKey = signingKey;
        SigningKeyFallback = signingKeyFallback;
        EventKeys = eventKeys;
        ApiToken = apiToken;
        var bearers = new List<HashedSecret>();
        foreach (var key in new[] { signingKey, signingKeyFallback })
        {
            if (key is not null)
            {
                // §5.3: the prefix-stripped token may equal the plain normalized key or its hashed form.
                bearers.Add(new HashedSecret(SigningKeys.Normalize(key)));
                bearers.Add(new HashedSecret(SigningKeys.Normalize(SigningKeys.BearerToken(key))));
            }
        }

        BearerTokens = bearers;
    }

    public static PlatformKeys Dev { get; } = new(null, null, [], null);

    /// <summary>True when keys are configured: calls are signed and every inbound route except health is authenticated.</summary>
    public bool IsProduction => SigningKey is not null;

    public string? SigningKey { get; }

    public string? SigningKeyFallback { get; }

    public IReadOnlyList<HashedSecret> EventKeys { get; }

    public HashedSecret? ApiToken { get; }

    /// <summary>Accepted prefix-stripped bearer values (plain and hashed, primary and fallback).</summary>
    public IReadOnlyList<HashedSecret> BearerTokens { get; }

    /// <summary>Reads and validates the <c>Platform</c> section; throws with a clear message on a half configuration.</summary>
    public static PlatformKeys FromConfiguration(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var signingKey = Blank(section["SigningKey"]);
        var fallback = Blank(section["SigningKeyFallback"]);
        var eventKeys = section.GetSection("EventKeys").GetChildren().Select(c => Blank(c.Value)).OfType<string>().ToList();
        if (Blank(section["EventKeys"]) is { } single)
        {
            eventKeys.AddRange(single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        var apiToken = Blank(section["ApiToken"]);
        if (signingKey is null && fallback is null && eventKeys.Count == 0 && apiToken is null)
        {
            return Dev;
        }

        if (signingKey is null)
        {
            throw new InvalidOperationException("Production mode needs Platform:SigningKey (keys are partly configured: set the signing key, or remove every Platform key for dev mode).");
        }

        foreach (var (name, key) in new[] { ("Platform:SigningKey", signingKey), ("Platform:SigningKeyFallback", fallback) })
        {
            if (key is not null && !SigningKeys.IsValid(key))
            {
                throw new InvalidOperationException($"{name} must be 'signkey-<env>-<hex>' or even-length hex.");
            }
        }

        if (eventKeys.Count == 0)
        {
            throw new InvalidOperationException("Production mode needs at least one Platform:EventKeys entry.");
        }

        if (apiToken is null)
        {
            throw new InvalidOperationException("Production mode needs Platform:ApiToken for the management API.");
        }

        return new PlatformKeys(signingKey, fallback, eventKeys.Select(HashedSecret.FromConfigured).ToList(), HashedSecret.FromConfigured(apiToken));
    }

    /// <summary>True when <paramref name="bearer"/> (with or without its signkey prefix) is the primary or fallback key, plain or hashed.</summary>
    public bool AcceptsBearer(string? bearer) =>
        bearer is not null && HashedSecret.AnyMatches(BearerTokens, SigningKeys.Normalize(bearer));

    public bool AcceptsEventKey(string? eventKey) => HashedSecret.AnyMatches(EventKeys, eventKey);

    public bool AcceptsApiToken(string? token) => ApiToken?.Matches(token) == true;

    public override string ToString() => IsProduction ? "PlatformKeys(production, ***)" : "PlatformKeys(dev)";

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
