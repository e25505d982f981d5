using System.Security.Cryptography;
using System.Text;

namespace Examples.Tests.Infrastructure;

/// <summary>Step ids as the platform stores them: lowercase hex SHA-1 of the id written in the function.</summary>
public static class StepIds
{
    public static string Hash(string id) => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(id)));
}
