using System.ComponentModel;
using System.Diagnostics;

namespace Platform.Tests.EndToEnd;

/// <summary>
/// A process started by a test: stdout and stderr are read continuously (the last lines are kept for failure
/// messages) and the process is killed (SIGKILL) on <see cref="Dispose"/>, whatever the test's outcome.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private const int KeptLines = 300;

    private readonly Process _process;
    private readonly string _name;
    private readonly Queue<string> _tail = new();
    private readonly List<string> _stdout = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _watchers = [];

    private ChildProcess(Process process, string name)
    {
        _process = process;
        _name = name;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts <paramref name="fileName"/>. The environment is this process's, minus variables whose names start with
    /// one of <paramref name="removePrefixes"/>, plus <paramref name="environment"/>.
    /// </summary>
    public static ChildProcess Start(
        string name,
        string fileName,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string> environment,
        IEnumerable<string>? removePrefixes = null,
        string? missingHint = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var prefix in removePrefixes ?? [])
        {
            foreach (var key in info.Environment.Keys.Where(k => k.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).ToList())
            {
                info.Environment.Remove(key);
            }
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process, name);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, stdout: true);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, stdout: false);
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new InvalidOperationException($"Could not start {name} ('{fileName}'): {ex.Message}. {missingHint}", ex);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for a stdout line matching <paramref name="match"/>; fails early if the process exits.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_tail)
        {
            if (_stdout.FirstOrDefault(match) is { } seen)
            {
                return seen;
            }

            _watchers.Add((match, found));
        }

        var deadline = DateTime.UtcNow + timeout;
        while (!found.Task.IsCompleted)
        {
            if (_process.HasExited)
            {
                // Let the output readers drain before reporting.
                await _process.WaitForExitAsync();
                if (found.Task.IsCompleted)
                {
                    break;
                }

                throw new InvalidOperationException(
                    $"{_name} exited with code {_process.ExitCode} before {what}. Its output:\n{Tail()}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{_name} did not print {what} within {timeout.TotalSeconds:0} s. Its output:\n{Tail()}");
            }

            await Task.WhenAny(found.Task, Task.Delay(50));
        }

        return await found.Task;
    }

    /// <summary>Kills the process at once (SIGKILL on Unix) and waits until it is gone.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited in between.
        }

        _process.WaitForExit(TimeSpan.FromSeconds(30));
    }

    /// <summary>The last lines the process wrote (stdout and stderr interleaved).</summary>
    public string Tail()
    {
        lock (_tail)
        {
            return string.Join('\n', _tail);
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void OnLine(string? line, bool stdout)
    {
        if (line is null)
        {
            return;
        }

        lock (_tail)
        {
            _tail.Enqueue(line);
            while (_tail.Count > KeptLines)
            {
                _tail.Dequeue();
            }

            if (!stdout)
            {
                return;
            }

            if (_stdout.Count < KeptLines)
            {
                _stdout.Add(line);
            }

            foreach (var watcher in _watchers.Where(w => w.Match(line)).ToList())
            {
                watcher.Found.TrySetResult(line);
                _watchers.Remove(watcher);
            }
        }
    }
}
