using FunctionSdk.Protocol;
using Microsoft.Extensions.Options;

namespace FunctionSdk.Hosting;

/// <summary>Checks the settings at start, with messages that name the setting and say what is expected.</summary>
internal sealed class DurableFunctionsOptionsValidator : IValidateOptions<DurableFunctionsOptions>
{
    private const string Section = DurableFunctionsOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, DurableFunctionsOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.AppId))
        {
            failures.Add($"{Section}:AppId is required: the app's id on the platform, e.g. \"shop\" (functions are known as \"shop-<functionId>\").");
        }
        else if (options.AppId.Any(char.IsWhiteSpace))
        {
            failures.Add($"{Section}:AppId \"{options.AppId}\" must not contain whitespace.");
        }

        if (!IsHttpUrl(options.PlatformUrl))
        {
            failures.Add($"{Section}:PlatformUrl \"{options.PlatformUrl}\" must be an absolute http(s) URL, e.g. http://127.0.0.1:8288.");
        }

        if (!string.IsNullOrEmpty(options.ServeUrl) && !IsHttpUrl(options.ServeUrl))
        {
            failures.Add($"{Section}:ServeUrl \"{options.ServeUrl}\" must be an absolute http(s) URL: the public URL of the endpoint mapped by MapDurableFunctions, e.g. http://127.0.0.1:5000/api/durable.");
        }

        if (string.IsNullOrWhiteSpace(options.EventKey))
        {
            failures.Add($"{Section}:EventKey must not be empty (the platform's default dev key is \"dev\").");
        }

        if (!string.IsNullOrEmpty(options.SigningKey) && !Signatures.IsValidKey(options.SigningKey))
        {
            failures.Add($"{Section}:SigningKey must be \"signkey-<env>-<hex>\" or an even number of hex digits.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
