using System.Security.Cryptography;
using System.Text;

namespace FunctionSdk.Protocol;

/// <summary>Step id hashing, identical to the JS SDK: lowercase hex SHA-1 of the UTF-8 id.</summary>
internal static class StepIds
{
    /// <summary>The wire id of the discovery call (<c>stepId=step</c>).</summary>
    public const string Discovery = "step";

    public static string Hash(string id) =>
        Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(id)));
}
