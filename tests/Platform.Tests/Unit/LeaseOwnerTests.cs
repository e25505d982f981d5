using System.Diagnostics;
using Platform.Executor.Runs;

namespace Platform.Tests.Unit;

public sealed class LeaseOwnerTests
{
    [Fact]
    public void IsOrphaned_OwnClaim_False()
    {
        Assert.False(LeaseOwner.IsOrphanedOnThisMachine(LeaseOwner.NewClaim()));
    }

    [Fact]
    public void IsOrphaned_SamePidOtherInstance_True()
    {
        // A restarted container runs the platform with the same pid (1) but a new instance id.
        var earlier = $"{LeaseOwner.MachinePrefix}{Environment.ProcessId}:0123456789ab:{Guid.NewGuid():N}";
        Assert.True(LeaseOwner.IsOrphanedOnThisMachine(earlier));
    }

    [Fact]
    public void IsOrphaned_ExitedProcess_True()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        var pid = process.Id;
        Assert.True(LeaseOwner.IsOrphanedOnThisMachine($"{LeaseOwner.MachinePrefix}{pid}:0123456789ab:{Guid.NewGuid():N}"));
    }

    [Fact]
    public void IsOrphaned_LiveProcess_False()
    {
        using var process = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            Assert.False(LeaseOwner.IsOrphanedOnThisMachine($"{LeaseOwner.MachinePrefix}{process.Id}:0123456789ab:{Guid.NewGuid():N}"));
        }
        finally
        {
            process.Kill();
        }
    }

    [Theory]
    [InlineData("other-host/abcdef12:1:0123456789ab:claim")]
    [InlineData("garbage")]
    [InlineData("")]
    public void IsOrphaned_OtherMachineOrUnknownShape_False(string owner)
    {
        Assert.False(LeaseOwner.IsOrphanedOnThisMachine(owner));
    }
}
