using FunctionSdk;

namespace Onboarding.Users;

/// <summary>A user signed up; starts <see cref="OnboardUser"/>.</summary>
[EventName("users/user.signed-up")]
public sealed record UserSignedUp(string UserId, string Email, string Name, string Company, string Plan);

/// <summary>The user filled in their profile in the product.</summary>
[EventName("users/profile.completed")]
public sealed record ProfileCompleted(string UserId, string JobTitle, int TeamSize);

/// <summary>What a run of <see cref="OnboardUser"/> returns.</summary>
public sealed record OnboardingOutcome(string UserId, string WorkspaceId, string CustomerId, bool ProfileCompleted, DateTimeOffset TrialEndsAt);
