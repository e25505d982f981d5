using Onboarding;
using Onboarding.Users;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddProblemDetails();
builder.Services.AddOnboardingServices(builder.Configuration);
builder.Services.AddDurableFunctions(builder.Configuration.GetSection("DurableFunctions"))
    .AddOnboardingFunctions(builder.Configuration["Onboarding:DigestSchedule"]);

var app = builder.Build();

// The platform calls this endpoint; the app syncs itself to the platform once it listens.
app.MapDurableFunctions("/api/durable");
app.MapUserApi();

app.Run();
