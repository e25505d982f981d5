using System.Collections.Concurrent;

namespace Onboarding.Workspaces;

/// <summary>A workspace in the product.</summary>
public sealed record Workspace(string WorkspaceId, string UserId, string Name);

/// <summary>The product's workspace service.</summary>
public interface IWorkspaces
{
    /// <summary>Creates the user's first workspace; a second call with the same key returns the first workspace.</summary>
    Task<Workspace> CreateAsync(string userId, string company, string idempotencyKey, CancellationToken cancellationToken);
}

/// <summary>Workspaces in memory: logs every call, creates one workspace per idempotency key.</summary>
public sealed partial class FakeWorkspaces(ILogger<FakeWorkspaces> logger) : IWorkspaces
{
    private readonly ConcurrentDictionary<string, Workspace> _created = new(StringComparer.Ordinal);
    private int _calls;

    /// <summary>Workspaces created, by idempotency key.</summary>
    public IReadOnlyDictionary<string, Workspace> Created => _created;

    /// <summary>Calls of <see cref="CreateAsync"/>, including repeated ones.</summary>
    public int Calls => Volatile.Read(ref _calls);

    public Task<Workspace> CreateAsync(string userId, string company, string idempotencyKey, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        LogCreate(logger, userId, idempotencyKey);
        return Task.FromResult(_created.GetOrAdd(idempotencyKey, key => new Workspace(Ids.FromKey("ws_", key), userId, $"{company} workspace")));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Create workspace for user {UserId} (idempotency key {IdempotencyKey})")]
    private static partial void LogCreate(ILogger logger, string userId, string idempotencyKey);
}
