using CsCheck;
using Platform.Executor.Protocol;
using Platform.Executor.Runs;
using Xunit.Abstractions;
using static Platform.Tests.Unit.Replies;

namespace Platform.Tests.Unit;

/// <summary>
/// The state machine driven the way <see cref="RunExecutor"/> drives it (decide, call, fold the replies, commit),
/// against an app that answers at random: well-formed, malformed and hostile replies, events matching waits at
/// random moments, time moving forward. After every transition the invariants a durable engine rests on are checked.
/// A failure prints the CsCheck seed and the shrunk script; set <c>CsCheck_Seed</c> to replay it.
/// </summary>
public sealed class RunStateMachinePropertyTests(ITestOutputHelper output)
{
    private const int Sequences = 10_000;
    private static readonly DateTimeOffset s_t0 = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private static readonly string[] s_ids = ["a", "b", "c", "d", "e", "f", "g", "h"];

    [Fact]
    public void Apply_RandomReplySequences_NeverLosesPendingStepsNeverStoresAStepTwiceAndBoundsAttempts()
    {
        var totals = new Totals();
        Gen.Select(Gen.Int[2, 5], Gen.Int[4, 12], Gen.Int[0, int.MaxValue].Array[1, 200])
            .Sample((maxAttempts, maxSteps, script) => new Simulation(maxAttempts, maxSteps, script, totals).Run(),
                writeLine: output.WriteLine, iter: Sequences, threads: 1);

        output.WriteLine($"sequences {totals.Sequences:N0}, transitions {totals.Transitions:N0}, memos {totals.Memos:N0}, " +
            $"retries {totals.Retries:N0}, completed {totals.Completed:N0}, failed {totals.Failed:N0}");
        // The generator must reach the interesting paths, or the property proves little.
        Assert.True(totals.Completed > 0 && totals.Failed > 0 && totals.Retries > 0 && totals.Memos > totals.Sequences);
    }

    private sealed class Totals
    {
        public long Sequences;
        public long Transitions;
        public long Memos;
        public long Retries;
        public long Completed;
        public long Failed;
    }

    private sealed class Simulation(int maxAttempts, int maxSteps, int[] script, Totals totals)
    {
        private readonly RunPolicy _policy = new(maxAttempts, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), maxSteps);
        private readonly Dictionary<string, string> _memo = new(StringComparer.Ordinal);
        private readonly HashSet<string> _memoKeys = new(StringComparer.Ordinal);
        private int _position;

        /// <summary>The next scripted choice in [0, n); 0 once the script is used up.</summary>
        private int Choose(int n) => _position < script.Length ? script[_position++] % n : 0;

        private string AnyId() => s_ids[Choose(s_ids.Length)];

        public void Run()
        {
            totals.Sequences++;
            var now = s_t0;
            var state = RunState.Start(now);
            for (var round = 0; round < 300 && _position < script.Length; round++)
            {
                // The world: an event may arrive for a pending wait, or an invoked run may end; ingest (or the invoked
                // run's final commit) stores the step's output.
                if (Choose(5) == 0 && state.Items.FirstOrDefault(i => i.Kind is WorkKind.Wait or WorkKind.Invoke && !_memoKeys.Contains(i.StepId)) is { } wait)
                {
                    _memo[wait.StepId] = """{"name":"evt","data":{}}""";
                    _memoKeys.Add(wait.StepId);
                }

                Transition t;
                switch (RunStateMachine.Next(state, _memoKeys, now))
                {
                    case SuspendDecision suspend:
                        Assert.True(suspend.Until > now, "a suspension must end in the future");
                        now = suspend.Until;
                        continue;

                    case ResolveDecision resolve:
                        Assert.All(resolve.Items, i => Assert.True(i.DueAt <= now || _memoKeys.Contains(i.StepId)));
                        t = RunStateMachine.Resolve(state, resolve.Items, _memoKeys, now);
                        break;

                    case CallDecision call:
                        Assert.NotEmpty(call.Items);
                        Assert.All(call.Items, i => Assert.True(i.DueAt <= now, "only due items are called"));
                        t = CallAll(state, call.Items, now);
                        break;

                    default:
                        throw new InvalidOperationException("unknown decision");
                }

                Check(state, t, now);
                if (t.Completion is not null)
                {
                    return;
                }

                state = t.State;
                now += TimeSpan.FromMilliseconds(Choose(3_000));
            }
        }

        /// <summary>Calls every item and folds the replies in order into one transition, as the executor does.</summary>
        private Transition CallAll(RunState state, IReadOnlyList<WorkItem> items, DateTimeOffset now)
        {
            var memos = new List<MemoWrite>();
            var attempts = new List<AttemptLog>();
            var waits = new List<WorkItem>();
            foreach (var item in items)
            {
                var known = new HashSet<string>(_memoKeys, StringComparer.Ordinal);
                known.UnionWith(memos.Select(m => m.StepId));
                var t = RunStateMachine.Apply(state, item, Reply(item), known, _policy, now, now, Choose(101) / 100.0);
                state = t.State;
                memos.AddRange(t.Memos);
                attempts.AddRange(t.Attempts);
                waits.AddRange(t.NewWaits);
                if (t.Completion is not null)
                {
                    return new Transition(state, memos, attempts, waits, t.Completion);
                }
            }

            return new Transition(state, memos, attempts, waits, null);
        }

        private CallOutcome Reply(WorkItem item)
        {
            var target = item.Kind == WorkKind.Discovery ? AnyId() : item.StepId;
            RetryAfter? retryAfter = Choose(4) == 0 ? new RetryAfter(TimeSpan.FromSeconds(Choose(90)), null) : null;
            return Choose(100) switch
            {
                < 6 => new CallFailed(500, Boom, Final: false, retryAfter),
                < 7 => new CallFailed(400, Boom, Final: true, null),
                < 9 => new FunctionCompleted(Choose(3) == 0 ? "\"\\u0000\"" : "\"done\""),
                < 11 => Ops(),
                < 31 => Ops(StepRun(target, Choose(10) == 0 ? "\"\\u0000\"" : "1")),
                < 43 => Ops(Choose(4) == 0, retryAfter, StepError(target)),
                < 48 => Ops(true, null, StepFailed(target)),
                < 63 => Ops([.. Enumerable.Range(0, 1 + Choose(3)).Select(_ => AnyId()).Append(Choose(3) == 0 ? target : AnyId()).Distinct().Select(Planned)]),
                < 69 => Ops(Sleep(AnyId(), new[] { "1s", "1m", "", "soon" }[Choose(4)])),
                < 75 => Ops(Wait(AnyId(), "evt", new[] { """{"timeout":"10s"}""", """{"timeout":"2m"}""", "{}" }[Choose(3)])),
                < 77 => Ops(StepRun(target, "2"), RunComplete("\"done\"")),
                < 78 => new CallFailed(500, "{\"message\":\"\\u0000\"}", Final: false, null),
                < 85 => Ops(StepRun(AnyId(), "3")),
                < 90 => Ops(StepRun(target, "4"), Planned(AnyId())),
                < 92 => Ops(StepRun(target, "5"), StepFailed(target)),
                < 94 => Ops(Choose(2) == 0 ? Other(OpNames.InvokeFunction, AnyId()) : Invoke(AnyId())),
                < 96 => Ops(DiscoveryRequest()),
                _ => Ops(StepError(AnyId()), StepError(AnyId())),
            };
        }

        private void Check(RunState before, Transition t, DateTimeOffset now)
        {
            totals.Transitions++;

            // A step's output is stored once: never for a step already stored, never twice in one commit.
            foreach (var memo in t.Memos)
            {
                Assert.False(_memoKeys.Contains(memo.StepId), $"step {memo.StepId} stored a second time");
                Assert.True(memo.Attempts >= 1 && memo.Attempts <= maxAttempts, $"memo of {memo.StepId} claims {memo.Attempts} attempts");
                _memo[memo.StepId] = memo.OutputJson;
                _memoKeys.Add(memo.StepId);
                totals.Memos++;
            }

            // Everything committed is something PostgreSQL's jsonb accepts, or the commit would fail on every retry.
            var stored = t.Memos.Select(m => m.OutputJson).Concat(t.Attempts.Select(a => a.ErrorJson))
                .Append(t.Completion?.OutputJson ?? "null").Append(t.Completion?.ErrorJson ?? "null");
            Assert.All(stored, json => Assert.Null(JsonSafety.FindUnstorable(json)));

            // Attempts stay within the budget.
            Assert.All(t.Attempts, a => Assert.InRange(a.Attempt, 0, maxAttempts - 1));
            Assert.All(t.State.Items, i => Assert.InRange(i.Attempt, 0, maxAttempts - 1));
            totals.Retries += t.Attempts.Count(a => a.RetryAt is not null);

            if (t.Completion is { } completion)
            {
                Assert.Empty(t.State.Items);
                Assert.True(completion.Status is RunStatus.Completed or RunStatus.Failed);
                Assert.True(completion.Status == RunStatus.Completed ? completion.ErrorJson is null : completion.ErrorJson is not null);
                if (completion.Status == RunStatus.Completed)
                {
                    totals.Completed++;
                }
                else
                {
                    totals.Failed++;
                }

                return;
            }

            // No pending step, sleep or wait is lost: it is still pending or it has been stored.
            foreach (var item in before.Items.Where(i => i.Kind != WorkKind.Discovery))
            {
                Assert.True(
                    t.State.Items.Any(i => i.Kind == item.Kind && i.StepId == item.StepId) || _memoKeys.Contains(item.StepId),
                    $"pending {item.Kind} {item.StepId} was dropped");
            }

            // A step id is pending at most once, and a live run always has something pending.
            var pendingIds = t.State.Items.Select(i => i.StepId).ToList();
            Assert.True(pendingIds.Count == pendingIds.Distinct().Count(), $"duplicate pending items: {string.Join(",", pendingIds)}");
            Assert.NotEmpty(t.State.Items);

            // New work is never due in the past.
            Assert.All(t.State.Items.Where(i => !before.Items.Contains(i)), i => Assert.True(i.DueAt >= now, $"{i.Kind} {i.StepId} due in the past"));
        }
    }
}
