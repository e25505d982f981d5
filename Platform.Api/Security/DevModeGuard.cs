using System.Net;

namespace Platform.Api.Security;

/// <summary>Dev mode (no keys) accepts anything from anyone: it binds to loopback unless explicitly allowed otherwise.</summary>
public static class DevModeGuard
{
    /// <summary>An error message when <paramref name="urls"/> names a non-loopback address and remote dev mode is not allowed; else null.</summary>
    public static string? Check(string? urls, bool allowRemoteDevMode)
    {
        if (allowRemoteDevMode || string.IsNullOrWhiteSpace(urls))
        {
            return null;
        }

        var remote = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(u => !IsLoopback(u)).ToList();
        return remote.Count == 0
            ? null
            : $"Refusing to start: dev mode (no Platform:SigningKey / Platform:EventKeys configured) accepts any event key and any app, "
              + $"but the platform is asked to listen on {string.Join(", ", remote)}. Configure keys for production mode, listen on 127.0.0.1, "
              + "or set Platform:AllowRemoteDevMode=true to accept the risk.";
    }

    private static bool IsLoopback(string url)
    {
        // Kestrel accepts "*" and "+" as hosts, which Uri does not parse: treat them as every interface.
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        var authority = schemeEnd >= 0 ? url[(schemeEnd + 3)..] : url;
        var slash = authority.IndexOf('/');
        authority = slash >= 0 ? authority[..slash] : authority;
        var host = authority.StartsWith('[') ? authority[..(authority.IndexOf(']') + 1)] : authority.Split(':')[0];
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address);
    }
}
