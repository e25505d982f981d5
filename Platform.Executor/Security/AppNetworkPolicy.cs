using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;

namespace Platform.Executor.Security;

/// <summary>
/// Where the platform may send requests to apps (SSRF guard, reliability.md §3 G9). In production mode an app URL
/// must resolve to public addresses only: loopback, unspecified, link-local (169.254.169.254), private (RFC 1918),
/// CGNAT 100.64/10, ULA fc00::/7, multicast, documentation and reserved ranges, and IPv4-mapped or NAT64 forms of
/// them are refused, at registration and again at every connection (<see cref="ConnectAsync"/> resolves the name,
/// checks every address and connects to a checked one, so a DNS answer that changes later cannot slip through).
/// Exceptions come only from <c>Platform:Security:AllowedAppNetworks</c> (CIDRs, addresses or host names); a
/// loopback entry additionally needs <c>Platform:Security:AllowLoopbackApps=true</c>, or the platform refuses to
/// start. Dev mode (no keys) does not check: its apps are on 127.0.0.1 by design.
/// </summary>
public sealed class AppNetworkPolicy
{
    public const string Section = "Platform:Security";

    private static readonly IPNetwork[] s_blocked =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"),
        IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"),
        IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("192.0.2.0/24"), IPNetwork.Parse("192.88.99.0/24"),
        IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("198.51.100.0/24"),
        IPNetwork.Parse("203.0.113.0/24"), IPNetwork.Parse("224.0.0.0/4"), IPNetwork.Parse("240.0.0.0/4"),
        IPNetwork.Parse("::/96"), IPNetwork.Parse("100::/64"), IPNetwork.Parse("2001:db8::/32"),
        IPNetwork.Parse("fc00::/7"), IPNetwork.Parse("fe80::/10"), IPNetwork.Parse("fec0::/10"), IPNetwork.Parse("ff00::/8"),
    ];

    private static readonly IPNetwork s_nat64 = IPNetwork.Parse("64:ff9b::/96");
    private readonly IPNetwork[] _allowedNetworks;
    private readonly string[] _allowedHosts;

    private AppNetworkPolicy(bool enforced, IPNetwork[] allowedNetworks, string[] allowedHosts, bool allowLoopback)
    {
        IsEnforced = enforced;
        _allowedNetworks = allowedNetworks;
        _allowedHosts = allowedHosts;
        AllowsLoopback = allowLoopback;
    }

    /// <summary>No checks (dev mode).</summary>
    public static AppNetworkPolicy Off { get; } = new(false, [], [], true);

    /// <summary>True in production mode: every app address is checked.</summary>
    public bool IsEnforced { get; }

    /// <summary>True when an allowlist entry opens loopback addresses and <c>AllowLoopbackApps</c> confirms it (production mode only).</summary>
    public bool AllowsLoopback { get; }

    /// <summary>The allowlist as configured, for the start-up log.</summary>
    public string Describe() => string.Join(", ", _allowedNetworks.Select(n => n.ToString()).Concat(_allowedHosts));

    /// <summary>
    /// Reads <c>Platform:Security</c>: <c>AllowedAppNetworks</c> (array, or one comma-separated string) and
    /// <c>AllowLoopbackApps</c>. Throws when an entry is malformed, or opens loopback without the explicit switch.
    /// </summary>
    public static AppNetworkPolicy FromConfiguration(IConfiguration configuration, PlatformKeys keys)
    {
        if (!keys.IsProduction)
        {
            return Off;
        }

        var section = configuration.GetSection(Section);
        var entries = section.GetSection("AllowedAppNetworks").GetChildren().Select(c => c.Value).OfType<string>().ToList();
        if (section["AllowedAppNetworks"] is { Length: > 0 } single)
        {
            entries.AddRange(single.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        var networks = new List<IPNetwork>();
        var hosts = new List<string>();
        foreach (var raw in entries.Select(e => e.Trim()).Where(e => e.Length > 0))
        {
            if (IPNetwork.TryParse(raw, out var network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(raw, out var address))
            {
                address = Canonical(address);
                networks.Add(new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            }
            else if (Uri.CheckHostName(raw) == UriHostNameType.Dns)
            {
                hosts.Add(raw.TrimEnd('.').ToLowerInvariant());
            }
            else
            {
                throw new InvalidOperationException($"Platform:Security:AllowedAppNetworks: '{raw}' is not a CIDR (10.1.0.0/16), an address or a host name.");
            }
        }

        var loopbackEntries = networks.Where(n => n.Contains(IPAddress.Loopback) || n.Contains(IPAddress.IPv6Loopback)).Select(n => n.ToString())
            .Concat(hosts.Where(h => h == "localhost" || h.EndsWith(".localhost", StringComparison.Ordinal)))
            .ToList();
        var allowLoopback = section.GetValue<bool>("AllowLoopbackApps");
        if (loopbackEntries.Count > 0 && !allowLoopback)
        {
            throw new InvalidOperationException(
                $"Platform:Security:AllowedAppNetworks opens loopback ({string.Join(", ", loopbackEntries)}) in production mode, which lets anyone who can "
                + "register an app make the platform call services on its own host. Remove the entry, or set Platform:Security:AllowLoopbackApps=true "
                + "if the apps really run on this host (a test rig, a single-machine install).");
        }

        return new AppNetworkPolicy(true, [.. networks], [.. hosts], allowLoopback && loopbackEntries.Count > 0);
    }

    /// <summary>True for an address on the public internet (after unwrapping IPv4-mapped and NAT64 IPv6).</summary>
    public static bool IsPublic(IPAddress address)
    {
        address = Canonical(address);
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && s_nat64.Contains(address))
        {
            var bytes = address.GetAddressBytes();
            return IsPublic(new IPAddress(bytes.AsSpan(12, 4)));
        }

        return address.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6
            && !IPAddress.IsLoopback(address)
            && !s_blocked.Any(n => n.BaseAddress.AddressFamily == address.AddressFamily && n.Contains(address));
    }

    /// <summary>Whether a connection to <paramref name="address"/> (named <paramref name="host"/> in the URL) is allowed.</summary>
    public bool Allows(string host, IPAddress address)
    {
        if (!IsEnforced)
        {
            return true;
        }

        address = Canonical(address);
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return false;
        }

        var listed = _allowedNetworks.Any(n => n.BaseAddress.AddressFamily == address.AddressFamily && n.Contains(address))
            || _allowedHosts.Contains(NormalizeHost(host), StringComparer.Ordinal);
        if (IPAddress.IsLoopback(address))
        {
            return AllowsLoopback && listed;
        }

        return listed || IsPublic(address);
    }

    /// <summary>
    /// The registration-time check: null when every address <paramref name="url"/>'s host resolves to is allowed,
    /// else why not (the message names the setting that allows it).
    /// </summary>
    public async Task<string?> CheckAsync(string url, CancellationToken cancellationToken)
    {
        if (!IsEnforced)
        {
            return null;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.IdnHost))
        {
            return "not an absolute URL";
        }

        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(uri.IdnHost, cancellationToken);
        }
        catch (SocketException ex)
        {
            return $"the host '{uri.Host}' does not resolve ({ex.SocketErrorCode})";
        }

        var refused = addresses.Where(a => !Allows(uri.IdnHost, a)).ToList();
        return refused.Count == 0 && addresses.Length > 0 ? null : Refusal(uri.Host, refused);
    }

    /// <summary>
    /// <see cref="SocketsHttpHandler.ConnectCallback"/>: resolves the host, keeps the allowed addresses and connects
    /// to one of them, so the address checked is the address connected to (no DNS-rebinding window).
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = await ResolveAsync(host, cancellationToken);
        var allowed = addresses.Where(a => Allows(host, a)).ToArray();
        if (allowed.Length == 0)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError, Refusal(host, addresses));
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The handler for calls to apps: no redirects, and in production mode no proxy and <see cref="ConnectAsync"/>.</summary>
    public SocketsHttpHandler CreateHandler()
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        if (IsEnforced)
        {
            // A proxy would receive the connection instead of the checked address.
            handler.UseProxy = false;
            handler.ConnectCallback = ConnectAsync;
        }

        return handler;
    }

    private static string Refusal(string host, IReadOnlyCollection<IPAddress> addresses) =>
        $"blocked: '{host}' resolves to {(addresses.Count == 0 ? "no address" : string.Join(", ", addresses))}, which is not a public address "
        + "(loopback, private, link-local, CGNAT, ULA and reserved ranges are refused in production mode); "
        + "allow it explicitly with Platform:Security:AllowedAppNetworks";

    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);

    private static string NormalizeHost(string host) => host.Trim('[', ']').TrimEnd('.').ToLowerInvariant();

    private static IPAddress Canonical(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
