using System.Globalization;

namespace Platform.Benchmarks;

/// <summary>CPU used during one phase, in cores (1.0 = one core busy all the time), from /proc.</summary>
public sealed record CpuUse(double Seconds, double Machine, double Platform, double Bench, double Postgres, double Other, string LoadAverage);

/// <summary>
/// Reads /proc to tell who used the CPU during a phase: the platform process, this process (driver + app), every
/// <c>postgres</c> process on the machine (the shared server serves other users too) and everything else. On a
/// shared 2-core machine "Other" is the noise that competed with the measurement.
/// </summary>
public sealed class CpuSampler(int platformPid)
{
    private const double TicksPerSecond = 100.0; // USER_HZ on Linux

    public sealed record Snapshot(long At, long MachineBusy, long Platform, long Bench, long Postgres);

    public Snapshot Take() => new(Clock.Now, MachineBusy(), ProcessTicks(platformPid), ProcessTicks(Environment.ProcessId), PostgresTicks());

    public static CpuUse Between(Snapshot a, Snapshot b)
    {
        var seconds = Clock.MsBetween(a.At, b.At) / 1000.0;
        double Cores(long ticks) => seconds <= 0 ? 0 : ticks / TicksPerSecond / seconds;
        var machine = Cores(b.MachineBusy - a.MachineBusy);
        var platform = Cores(b.Platform - a.Platform);
        var bench = Cores(b.Bench - a.Bench);
        var postgres = Cores(b.Postgres - a.Postgres);
        return new CpuUse(
            Math.Round(seconds, 2), Math.Round(machine, 2), Math.Round(platform, 2), Math.Round(bench, 2), Math.Round(postgres, 2),
            Math.Round(Math.Max(0, machine - platform - bench - postgres), 2), LoadAverage());
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static long MachineBusy()
    {
        try
        {
            // cpu  user nice system idle iowait irq softirq steal ...
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var values = fields.Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            return values.Sum() - values[3] - values[4];
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static long ProcessTicks(int pid)
    {
        try
        {
            // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(rest[11], CultureInfo.InvariantCulture) + long.Parse(rest[12], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    private static long PostgresTicks()
    {
        long total = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd() == "postgres")
                {
                    total += ProcessTicks(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process ended meanwhile.
            }
        }

        return total;
    }
}
