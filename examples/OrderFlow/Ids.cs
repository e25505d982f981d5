using System.Security.Cryptography;
using System.Text;

namespace OrderFlow;

/// <summary>Ids the fakes derive from an idempotency key, so a repeated call gets the same id back.</summary>
internal static class Ids
{
    public static string FromKey(string prefix, string idempotencyKey) =>
        prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(idempotencyKey)))[..12];
}
