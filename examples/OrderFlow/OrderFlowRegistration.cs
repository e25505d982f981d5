using FunctionSdk;
using OrderFlow.Email;
using OrderFlow.Orders;
using OrderFlow.Payments;
using OrderFlow.Warehouse;

namespace OrderFlow;

/// <summary>What the app registers, shared by <c>Program.cs</c> and the tests (the test host registers the same).</summary>
public static class OrderFlowRegistration
{
    /// <summary>The services the order functions use: settings and the (fake) payment gateway, warehouse and mailer.</summary>
    /// <param name="services">The app's services.</param>
    /// <param name="configuration">The app's configuration; the <c>OrderFlow</c> section holds the timings.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddOrderFlowServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<OrderFlowOptions>().Bind(configuration.GetSection(OrderFlowOptions.SectionName)).ValidateOnStart();
        services.AddSingleton<FakePaymentGateway>();
        services.AddSingleton<IPaymentGateway>(sp => sp.GetRequiredService<FakePaymentGateway>());
        services.AddSingleton<FakeWarehouse>();
        services.AddSingleton<IWarehouse>(sp => sp.GetRequiredService<FakeWarehouse>());
        services.AddSingleton<FakeEmailSender>();
        services.AddSingleton<IEmailSender>(sp => sp.GetRequiredService<FakeEmailSender>());
        services.AddSingleton<FakeFailedOrders>();
        services.AddSingleton<IFailedOrders>(sp => sp.GetRequiredService<FakeFailedOrders>());
        return services;
    }

    /// <summary>The app's durable functions: process-order, and its failure handler as process-order-failure.</summary>
    /// <param name="functions">The builder returned by <c>AddDurableFunctions</c>.</param>
    /// <returns>The builder.</returns>
    public static DurableFunctionsBuilder AddOrderFlowFunctions(this DurableFunctionsBuilder functions) =>
        functions.AddFunction<ProcessOrder>(o => o.OnFailure<ProcessOrderFailed>());
}
