using System.Net.Mail;
using FunctionSdk;
using Microsoft.AspNetCore.Http.HttpResults;
using Onboarding.Billing;
using Onboarding.Email;
using Onboarding.Leads;
using Onboarding.Workspaces;

namespace Onboarding.Users;

/// <summary>The product's own HTTP API: sign up, complete a profile, ask for qualification, look at what the fakes did.</summary>
public static class UserApi
{
    public sealed record SignUpRequest(string? Email, string? Name, string? Company, string? Plan);

    public sealed record ProfileRequest(string? JobTitle, int TeamSize);

    public sealed record QualifyRequest(string? Email, string? Company);

    public sealed record EventAccepted(string UserId, string EventId);

    public sealed record State(
        IReadOnlyDictionary<string, Workspace> Workspaces,
        IReadOnlyDictionary<string, BillingCustomer> Customers,
        IReadOnlyDictionary<string, LeadScore> Scores,
        IReadOnlyDictionary<string, string> SalesReps,
        IReadOnlyDictionary<string, EmailMessage> Emails);

    public static IEndpointRouteBuilder MapUserApi(this IEndpointRouteBuilder app)
    {
        var users = app.MapGroup("/users").WithTags("Users");
        app.MapPost("/signups", SignUpAsync).WithTags("Users");
        users.MapPost("/{userId}/profile", CompleteProfileAsync);
        users.MapPost("/{userId}/qualify", QualifyAsync);
        app.MapGet("/state", GetState).WithTags("State");
        return app;
    }

    private static async Task<Results<Accepted<EventAccepted>, ProblemHttpResult>> SignUpAsync(
        SignUpRequest request, IEventSender events, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Email) || !MailAddress.TryCreate(request.Email, out _))
        {
            return TypedResults.Problem(detail: "email: a valid email address is required", statusCode: 400);
        }

        if (string.IsNullOrWhiteSpace(request.Name) || string.IsNullOrWhiteSpace(request.Company))
        {
            return TypedResults.Problem(detail: "name and company are required", statusCode: 400);
        }

        var userId = "usr_" + Guid.NewGuid().ToString("N")[..12];
        var signedUp = new UserSignedUp(userId, request.Email, request.Name, request.Company, request.Plan ?? "team");
        var sent = await events.SendAsync([EventMessage.From(signedUp, id: $"signed-up-{userId}")], cancellationToken);
        return TypedResults.Accepted($"/users/{userId}", new EventAccepted(userId, sent.Ids[0]));
    }

    private static async Task<Results<Accepted<EventAccepted>, ProblemHttpResult>> CompleteProfileAsync(
        string userId, ProfileRequest request, IEventSender events, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.JobTitle) || request.TeamSize < 1)
        {
            return TypedResults.Problem(detail: "jobTitle and a teamSize of 1 or more are required", statusCode: 400);
        }

        var sent = await events.SendAsync(new ProfileCompleted(userId, request.JobTitle, request.TeamSize), cancellationToken);
        return TypedResults.Accepted($"/users/{userId}", new EventAccepted(userId, sent.Ids[0]));
    }

    private static async Task<Results<Accepted<EventAccepted>, ProblemHttpResult>> QualifyAsync(
        string userId, QualifyRequest request, IEventSender events, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Email) || string.IsNullOrWhiteSpace(request.Company))
        {
            return TypedResults.Problem(detail: "email and company are required", statusCode: 400);
        }

        var sent = await events.SendAsync(new LeadQualifyRequested(userId, request.Email, request.Company), cancellationToken);
        return TypedResults.Accepted($"/users/{userId}", new EventAccepted(userId, sent.Ids[0]));
    }

    private static Ok<State> GetState(FakeWorkspaces workspaces, FakeBilling billing, FakeCrm crm, FakeEmailSender email) =>
        TypedResults.Ok(new State(workspaces.Created, billing.Customers, crm.Scores, crm.Assignments, email.Sent));
}
