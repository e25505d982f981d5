using Microsoft.Extensions.Options;

namespace Platform.Executor;

/// <summary>Checks the settings at start, with messages that name the setting and say what is expected.</summary>
internal sealed class ExecutorOptionsValidator : IValidateOptions<ExecutorOptions>
{
    private const string Section = ExecutorOptions.Section;

    public ValidateOptionsResult Validate(string? name, ExecutorOptions options)
    {
        if (options.RunRetention is { } retention && retention <= TimeSpan.Zero)
        {
            return ValidateOptionsResult.Fail(
                $"{Section}:RunRetention \"{retention}\" must be positive, e.g. \"30.00:00:00\" to delete runs 30 days after they ended; leave it unset to keep runs for ever.");
        }

        return ValidateOptionsResult.Success;
    }
}
