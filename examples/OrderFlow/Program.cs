using OrderFlow;
using OrderFlow.Orders;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddProblemDetails();
builder.Services.AddOrderFlowServices(builder.Configuration);
builder.Services.AddDurableFunctions(builder.Configuration.GetSection("DurableFunctions"))
    .AddOrderFlowFunctions();

var app = builder.Build();

// The platform calls this endpoint; the app syncs itself to the platform once it listens.
app.MapDurableFunctions("/api/durable");
app.MapOrderApi();

app.Run();
