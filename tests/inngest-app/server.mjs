// Tiny Inngest app on the real `inngest` JS SDK (4.24.0), used by the
// platform's tests as a real SDK client. See README.md.
//
// Env:
//   PORT                 listen port (default 3939; 0 = pick a free port)
//   HOST                 listen address (default 127.0.0.1; the compose file sets 0.0.0.0)
//   APP_ID               Inngest app id, prefix of every function slug (default "node-app")
//   EXEC_LOG             optional path of a JSON-lines file; one line is appended each
//                        time user code inside a step body actually executes
//   CONFORMANCE_FUNCTIONS "1" also serves the functions of the conformance suite (invoke,
//                        onFailure, cancelOn, sendEvent, ...); without it the app serves the 8 base ones
//   PARITY_CRON          "1" serves only "ticker", a cron function firing every 2 s (its
//                        own app, so the other tests do not get its runs)
//   INNGEST_DEV, INNGEST_BASE_URL, INNGEST_SIGNING_KEY, INNGEST_EVENT_KEY, ...
//                        read by the SDK itself (nothing is hard-coded here)
//
// Stdout carries exactly one line, "READY <port>", once the server listens.
// SDK logs go to stderr.

import { appendFileSync } from "node:fs";
import http from "node:http";
import { Inngest, NonRetriableError, RetryAfterError, referenceFunction } from "inngest";
import { serve } from "inngest/node";

const PORT = Number.parseInt(process.env.PORT ?? "3939", 10);
const APP_ID = process.env.APP_ID || "node-app";
const EXEC_LOG = process.env.EXEC_LOG || "";
const SERVE_PATH = "/api/inngest";

// Keep stdout for the READY line only.
const stderrLogger = {
  info: (...args) => console.error("[inngest:info]", ...args),
  warn: (...args) => console.error("[inngest:warn]", ...args),
  error: (...args) => console.error("[inngest:error]", ...args),
  debug: () => {},
};

const inngest = new Inngest({
  id: APP_ID,
  logger: stderrLogger,
  // Classic protocol: never use async checkpointing (POST /v1/checkpoint/...),
  // even if the platform sends ctx.fn_id. The option exists in 4.24.0 at client
  // and function level; the client-level value applies to every function here.
  checkpointing: false,
});

/** Append one JSON line to EXEC_LOG (synchronously, so it is on disk before the SDK answers). */
function logExec(fn, step, ctx) {
  if (!EXEC_LOG) return;
  const line = JSON.stringify({ fn, step, runId: ctx.runId, attempt: ctx.attempt, at: new Date().toISOString() });
  appendFileSync(EXEC_LOG, line + "\n");
}

// 1. two-steps
const twoSteps = inngest.createFunction(
  { id: "two-steps", triggers: [{ event: "test/two-steps" }] },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const a = await step.run("a", () => {
      logExec("two-steps", "a", ctx);
      return "A:" + event.data.x;
    });
    const b = await step.run("b", () => {
      logExec("two-steps", "b", ctx);
      return a + "|B";
    });
    return { a, b };
  },
);

// 2. sleepy
const sleepy = inngest.createFunction(
  { id: "sleepy", triggers: [{ event: "test/sleepy" }] },
  async ({ step, runId, attempt }) => {
    const ctx = { runId, attempt };
    await step.run("before", () => {
      logExec("sleepy", "before", ctx);
      return "before";
    });
    await step.sleep("nap", "1s");
    await step.run("after", () => {
      logExec("sleepy", "after", ctx);
      return "after";
    });
    return { slept: true };
  },
);

// 3. fanout
const fanout = inngest.createFunction(
  { id: "fanout", triggers: [{ event: "test/fanout" }] },
  async ({ step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const parts = await Promise.all([
      step.run("p1", () => {
        logExec("fanout", "p1", ctx);
        return 1;
      }),
      step.run("p2", () => {
        logExec("fanout", "p2", ctx);
        return 2;
      }),
      step.run("p3", () => {
        logExec("fanout", "p3", ctx);
        return 3;
      }),
    ]);
    const sum = await step.run("sum", () => {
      logExec("fanout", "sum", ctx);
      return parts.reduce((acc, n) => acc + n, 0);
    });
    return { sum };
  },
);

// 4. flaky: step fails on attempts 0 and 1, succeeds on attempt 2.
const flaky = inngest.createFunction(
  { id: "flaky", retries: 3, triggers: [{ event: "test/flaky" }] },
  async ({ step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const result = await step.run("flaky-step", () => {
      logExec("flaky", "flaky-step", ctx);
      if (attempt < 2) {
        throw new Error(`flaky failure on attempt ${attempt}`);
      }
      return "ok";
    });
    return { result };
  },
);

// 5. waiter (no step body: nothing is written to EXEC_LOG); event.data.timeout
// overrides the 3 s timeout.
const waiter = inngest.createFunction(
  { id: "waiter", triggers: [{ event: "test/waiter" }] },
  async ({ event, step }) => {
    const evt = await step.waitForEvent("wait-approve", {
      event: "test/approve",
      timeout: event.data.timeout ?? "3s",
      if: "async.data.id == event.data.id",
    });
    return { approved: evt !== null, by: evt?.data?.by ?? null };
  },
);

// 6. fails: the step always throws -> run fails after 1 retry (2 attempts).
const fails = inngest.createFunction(
  { id: "fails", retries: 1, triggers: [{ event: "test/fails" }] },
  async ({ step, runId, attempt }) => {
    const ctx = { runId, attempt };
    await step.run("boom", () => {
      logExec("fails", "boom", ctx);
      throw new Error("boom");
    });
    return { unreachable: true };
  },
);

// 7. counter: wildcard trigger.
const counter = inngest.createFunction(
  { id: "counter", triggers: [{ event: "test/prefix/*" }] },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const name = await step.run("count", () => {
      logExec("counter", "count", ctx);
      return event.name;
    });
    return { name };
  },
);

// 8. crashy: steps around a sleep, for the platform crash tests ("two" takes
// 0.5 s, a window for killing the platform mid-call). Each step's
// output builds on the previous one, so a memo served wrongly after a crash
// shows in the result.
const crashy = inngest.createFunction(
  { id: "crashy", triggers: [{ event: "test/crashy" }] },
  async ({ step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const one = await step.run("one", () => {
      logExec("crashy", "one", ctx);
      return "one";
    });
    await step.sleep("pause", "3s");
    const two = await step.run("two", async () => {
      logExec("crashy", "two", ctx);
      // Slow on purpose: the crash tests kill the platform while this call is in flight.
      await new Promise((resolve) => setTimeout(resolve, 500));
      return one + "|two";
    });
    const three = await step.run("three", () => {
      logExec("crashy", "three", ctx);
      return two + "|three";
    });
    return { result: three };
  },
);

// ---- Conformance functions (served with CONFORMANCE_FUNCTIONS=1) ----

// invokee: doubles event.data.n in a step; fails for good when event.data.fail;
// sleeps event.data.sleep first when given (to outlive an invoker's timeout).
const invokee = inngest.createFunction(
  { id: "invokee", retries: 0, triggers: [{ event: "test/invokee" }] },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    if (event.data.sleep) {
      await step.sleep("invokee-nap", event.data.sleep);
    }
    const doubled = await step.run("double", () => {
      logExec("invokee", "double", ctx);
      if (event.data.fail) {
        throw new NonRetriableError("invokee failed on purpose");
      }
      return event.data.n * 2;
    });
    return { doubled, trigger: event.name };
  },
);

// invoker: invokes invokee (or, with event.data.unknown, a function that does not
// exist) and returns what the step resolved to: { result } or { error: {name, message} }.
const invoker = inngest.createFunction(
  { id: "invoker", retries: 0, triggers: [{ event: "test/invoker" }] },
  async ({ event, step }) => {
    const target = event.data.unknown ? referenceFunction({ functionId: "no-such-function" }) : invokee;
    try {
      const result = await step.invoke("call-invokee", {
        function: target,
        data: { n: event.data.n, fail: event.data.fail, sleep: event.data.sleep, tag: event.data.tag },
        timeout: event.data.timeout,
      });
      return { result };
    } catch (err) {
      return { error: { name: err.name, message: err.message } };
    }
  },
);

// doomed: its step always throws (retries: 1, so two attempts), then the run fails
// and its onFailure handler (function "doomed-failure", triggered by
// inngest/function.failed) reports what it was told. With event.data.failHandler the
// handler fails too (a NonRetriableError), which must not start it again.
const doomed = inngest.createFunction(
  {
    id: "doomed",
    retries: 1,
    triggers: [{ event: "test/doomed" }],
    onFailure: async ({ error, event, step, runId, attempt }) => {
      const ctx = { runId, attempt };
      const report = await step.run("report", () => {
        logExec("doomed-failure", "report", ctx);
        return {
          message: error.message,
          originalEvent: event.data.event.name,
          failedRunId: event.data.run_id,
          tag: event.data.event.data.tag ?? null,
        };
      });
      if (event.data.event.data.failHandler) {
        throw new NonRetriableError("the failure handler failed too");
      }
      return report;
    },
  },
  async ({ step, runId, attempt }) => {
    const ctx = { runId, attempt };
    await step.run("explode", () => {
      logExec("doomed", "explode", ctx);
      throw new Error(`doomed on attempt ${attempt}`);
    });
    return { unreachable: true };
  },
);

// cancellable: a step, a durable sleep (event.data.sleep, default 3s), a step;
// cancelled by test/cancellable.cancel with the same data.id within a minute.
const cancellable = inngest.createFunction(
  {
    id: "cancellable",
    triggers: [{ event: "test/cancellable" }],
    cancelOn: [{ event: "test/cancellable.cancel", match: "data.id", timeout: "1m" }],
  },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    await step.run("before", () => {
      logExec("cancellable", "before", ctx);
      return "before";
    });
    await step.sleep("cancellable-nap", event.data.sleep ?? "3s");
    await step.run("after", () => {
      logExec("cancellable", "after", ctx);
      return "after";
    });
    return { finished: true };
  },
);

// idempotent: at most one run per data.user per 24 hours.
const idempotent = inngest.createFunction(
  { id: "idempotent", idempotency: "event.data.user", triggers: [{ event: "test/idempotent" }] },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const user = await step.run("greet", () => {
      logExec("idempotent", "greet", ctx);
      return event.data.user;
    });
    return { user, n: event.data.n };
  },
);

// sleep-until: a step, step.sleepUntil(event.data.until), a step.
const sleepUntil = inngest.createFunction(
  { id: "sleep-until", triggers: [{ event: "test/sleep-until" }] },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    await step.run("before", () => {
      logExec("sleep-until", "before", ctx);
      return "before";
    });
    await step.sleepUntil("until", event.data.until);
    await step.run("after", () => {
      logExec("sleep-until", "after", ctx);
      return "after";
    });
    return { until: event.data.until };
  },
);

// no-retry: retries 3, but the step throws NonRetriableError: one attempt, the run fails.
const noRetry = inngest.createFunction(
  { id: "no-retry", retries: 3, triggers: [{ event: "test/no-retry" }] },
  async ({ step, runId, attempt }) => {
    const ctx = { runId, attempt };
    await step.run("refuse", () => {
      logExec("no-retry", "refuse", ctx);
      throw new NonRetriableError("not worth retrying");
    });
    return { unreachable: true };
  },
);

// retry-after: the step throws RetryAfterError("2s") on attempt 0 and succeeds on attempt 1.
const retryAfter = inngest.createFunction(
  { id: "retry-after", retries: 2, triggers: [{ event: "test/retry-after" }] },
  async ({ step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const result = await step.run("throttled", () => {
      logExec("retry-after", "throttled", ctx);
      if (attempt === 0) {
        throw new RetryAfterError("come back later", "2s");
      }
      return { attempt };
    });
    return { result };
  },
);

// sender: step.sendEvent of test/sent with the trigger's tag; returns the event ids.
const sender = inngest.createFunction(
  { id: "sender", triggers: [{ event: "test/sender" }] },
  async ({ event, step }) => {
    const sent = await step.sendEvent("send-it", { name: "test/sent", data: { tag: event.data.tag } });
    return { ids: sent.ids };
  },
);

// receiver: started by the event sender sends.
const receiver = inngest.createFunction(
  { id: "receiver", triggers: [{ event: "test/sent" }] },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const tag = await step.run("receive", () => {
      logExec("receiver", "receive", ctx);
      return event.data.tag;
    });
    return { tag };
  },
);

// big-spender: an event trigger with a CEL expression (`if`, sent as `expression`); only amounts
// over 100 start a run.
const bigSpender = inngest.createFunction(
  { id: "big-spender", triggers: [{ event: "test/purchase", if: "event.data.amount > 100" }] },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const amount = await step.run("record", () => {
      logExec("big-spender", "record", ctx);
      return event.data.amount;
    });
    return { amount };
  },
);

// two-triggers: started by either of two events.
const twoTriggers = inngest.createFunction(
  { id: "two-triggers", triggers: [{ event: "test/multi.a" }, { event: "test/multi.b" }] },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const name = await step.run("which", () => {
      logExec("two-triggers", "which", ctx);
      return event.name;
    });
    return { name, tag: event.data.tag };
  },
);

const conformanceFunctions = [invokee, invoker, doomed, cancellable, idempotent, sleepUntil, noRetry, retryAfter, sender, receiver, bigSpender, twoTriggers];

// ticker: a cron every 2 seconds (six fields: seconds first), Paris time.
const ticker = inngest.createFunction(
  { id: "ticker", triggers: [{ cron: "TZ=Europe/Paris */2 * * * * *" }] },
  async ({ event, step, runId, attempt }) => {
    const ctx = { runId, attempt };
    const at = await step.run("tick", () => {
      logExec("ticker", "tick", ctx);
      return event.data.scheduledAt ?? null;
    });
    return { name: event.name, cron: event.data.cron, at };
  },
);

const baseFunctions = [twoSteps, sleepy, fanout, flaky, waiter, fails, counter, crashy];

const handler = serve({
  client: inngest,
  functions: process.env.PARITY_CRON === "1"
    ? [ticker]
    : [...baseFunctions, ...(process.env.CONFORMANCE_FUNCTIONS === "1" ? conformanceFunctions : [])],
  servePath: SERVE_PATH,
});

const server = http.createServer((req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  if (path === SERVE_PATH || path === SERVE_PATH + "/") {
    return handler(req, res);
  }
  res.statusCode = 404;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ error: "not found", path }));
});

server.listen(PORT, process.env.HOST || "127.0.0.1", () => {
  const { port } = server.address();
  process.stdout.write(`READY ${port}\n`);
});

let closing = false;
function shutdown(signal) {
  if (closing) return;
  closing = true;
  console.error(`[inngest-app] ${signal}: closing`);
  server.close(() => process.exit(0));
  server.closeIdleConnections?.();
  // Do not hang on in-flight keep-alive/long requests.
  setTimeout(() => {
    server.closeAllConnections?.();
    process.exit(0);
  }, 2000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
