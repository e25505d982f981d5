using FunctionSdk.Functions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace FunctionSdk.Testing;

/// <summary>
/// Sets up a <see cref="DurableTestHost"/>: the services the functions need, configuration, the functions themselves,
/// and the clock. Get one from <see cref="DurableTestHost.CreateBuilder"/>.
/// </summary>
/// <example>
/// <code>
/// var builder = DurableTestHost.CreateBuilder();
/// builder.Services.AddSingleton&lt;IPayments, FakePayments&gt;();
/// builder.Functions.AddFunction&lt;ChargeOrder&gt;();
/// await using var host = builder.Build();
/// var run = (await host.SendAsync(new OrderPlaced("o-1", 42m))).Single();
/// await run.WaitForCompletionAsync();
/// </code>
/// </example>
public sealed class DurableTestHostBuilder
{
    internal DurableTestHostBuilder()
    {
        Configuration = new ConfigurationManager();
        Services = new ServiceCollection();
        Services.AddSingleton<IConfiguration>(Configuration);
        Services.AddLogging();
        Functions = Services.AddDurableFunctions(o =>
        {
            o.AppId = AppId;
            o.SyncOnStart = false;
        });
    }

    /// <summary>The services functions get through their constructors (register fakes here).</summary>
    public IServiceCollection Services { get; }

    /// <summary>Configuration, registered as <see cref="IConfiguration"/> (add in-memory settings here, e.g. short timeouts).</summary>
    public ConfigurationManager Configuration { get; }

    /// <summary>Where to register the functions under test, as with <c>AddDurableFunctions</c> in an app.</summary>
    public DurableFunctionsBuilder Functions { get; }

    /// <summary>The app id; invokes address functions as <c>{AppId}-{functionId}</c>. Default <c>test-app</c>.</summary>
    public string AppId { get; set; } = "test-app";

    /// <summary>Where the host's clock starts. Default 2025-01-01T00:00:00Z, so runs are reproducible.</summary>
    public DateTimeOffset StartTime { get; set; } = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Whether a run that reaches a durable sleep moves the clock forward to the sleep's end at once (default true).
    /// Turn it off to look at runs while they sleep; then <see cref="DurableTestHost.AdvanceTimeAsync"/> ends sleeps.
    /// </summary>
    public bool SkipSleeps { get; set; } = true;

    /// <summary>
    /// How many calls of functions one host operation may make before the host gives up, to stop a function that
    /// loops forever (default 10,000).
    /// </summary>
    public int MaxCallsPerOperation { get; set; } = 10_000;

    /// <summary>
    /// How long a step call waits for the requested step to show up before answering "step not found" (default
    /// 1 s; the SDK's endpoint waits 10 s). Only a function whose steps differ from call to call ever waits.
    /// </summary>
    public TimeSpan StepNotFoundTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Builds the host. The builder cannot be used afterwards.</summary>
    /// <returns>The host; dispose it to dispose its services.</returns>
    /// <exception cref="InvalidOperationException">A trigger's <c>if</c> expression does not compile.</exception>
    public DurableTestHost Build()
    {
        var clock = new FakeTimeProvider(StartTime);
        var sender = new HostEventSender();
        // Every registration, so that an app's own TimeProvider or event sender cannot win over the host's.
        Services.RemoveAll<TimeProvider>().AddSingleton<TimeProvider>(clock);
        Services.RemoveAll<IEventSender>().AddSingleton<IEventSender>(sender);
        var services = Services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        var catalog = services.GetRequiredService<FunctionCatalog>();
        var host = new DurableTestHost(services, catalog, clock, this);
        sender.Host = host;
        return host;
    }
}
