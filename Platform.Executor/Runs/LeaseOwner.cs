namespace Platform.Executor.Runs;

/// <summary>
/// Lease owner tokens: <c>{machine}:{pid}:{process instance}:{claim}</c>. The first three parts let a process
/// tell that a lease belongs to a process on its own machine that is gone (killed, or a previous incarnation
/// with the same pid, as in a restarted container), so the run need not wait for the lease to expire.
/// </summary>
public static class LeaseOwner
{
    private static readonly string s_instance = Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// <c>{host name}/{boot id}:</c>, the prefix of every lease taken on this machine. The kernel's boot id keeps
    /// two machines that happen to share a host name apart (containers on one host differ by host name).
    /// </summary>
    public static string MachinePrefix { get; } = $"{Environment.MachineName.Replace(':', '_')}/{BootId()}:";

    /// <summary><c>{machine}:{pid}:{instance}</c> of this process.</summary>
    public static string Process { get; } = $"{MachinePrefix}{Environment.ProcessId}:{s_instance}";

    /// <summary>A fresh owner token for one claim.</summary>
    public static string NewClaim() => $"{Process}:{Guid.NewGuid():N}";

    private static string BootId()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim()[..8];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
        {
            return "noboot";
        }
    }

    /// <summary>
    /// True when <paramref name="owner"/> was taken on this machine by a process that no longer runs. Unknown
    /// shapes, other machines and live processes are never orphaned (their leases expire by time).
    /// </summary>
    public static bool IsOrphanedOnThisMachine(string owner)
    {
        if (!owner.StartsWith(MachinePrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = owner[MachinePrefix.Length..].Split(':');
        if (parts.Length < 3 || !int.TryParse(parts[0], out var pid))
        {
            return false;
        }

        if (pid == Environment.ProcessId)
        {
            // Same pid: ours if the instance matches, else a dead earlier incarnation (e.g. pid 1 in a container).
            return parts[1] != s_instance;
        }

        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}
