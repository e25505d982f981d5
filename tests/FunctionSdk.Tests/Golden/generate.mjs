// Regenerates the golden request/reply files of this folder from the real `inngest` npm SDK (4.24.0).
//
//   node tests/FunctionSdk.Tests/Golden/generate.mjs [path/to/node_modules]
//
// The node_modules folder defaults to tests/inngest-app/node_modules (run `npm ci` there first).
// The script serves a few functions with `inngest/node` on 127.0.0.1, sends each scenario's call
// requests, and writes one `<scenario>.json` per scenario: the requests and the SDK's replies
// (status, the protocol headers, body; error stacks cut to their first line). A tiny fake event API
// answers the SDK's `step.sendEvent`; what it received is written to send-event.sent.json.
// The C# twins of these functions live in GoldenFileTests.cs; replies must match field by field.

import { writeFileSync } from "node:fs";
import http from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = resolve(process.argv[2] ?? join(here, "../../inngest-app/node_modules"));
const { Inngest, NonRetriableError, RetryAfterError, referenceFunction } = await import(
  pathToFileURL(join(modules, "inngest/index.js")).href);
const { serve } = await import(pathToFileURL(join(modules, "inngest/node.js")).href);

const listen = (server) => new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server.address().port)));

// Fake platform: only the event API is needed (step.sendEvent).
const sent = [];
const platform = http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    const events = JSON.parse(body);
    sent.push({ url: req.url, events });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ ids: events.map((_, i) => `01HFAKEEVENTID00000000000${i}`), status: 200 }));
  });
});
const platformPort = await listen(platform);

const inngest = new Inngest({
  id: "probe-app",
  isDev: true,
  baseUrl: `http://127.0.0.1:${platformPort}`,
  checkpointing: false,
  logger: { info() {}, warn() {}, error() {}, debug() {} },
});

const fns = [
  inngest.createFunction({ id: "steps", triggers: [{ event: "test/steps" }] }, async ({ step }) => {
    const a = await step.run("a", () => "A");
    const b = await step.run("b", () => a + "B");
    return { b };
  }),
  inngest.createFunction({ id: "parallel", triggers: [{ event: "test/parallel" }] }, async ({ step }) => {
    const [p1, p2, p3] = await Promise.all([
      step.run("p1", () => 1), step.run("p2", () => 2), step.run("p3", () => 3)]);
    const sum = await step.run("sum", () => p1 + p2 + p3);
    return { sum };
  }),
  inngest.createFunction({ id: "sleeper", triggers: [{ event: "test/sleep" }] }, async ({ step }) => {
    await step.sleep("nap", 90_000);
    await step.sleepUntil("nap-until", new Date("2026-11-28T04:46:01.824Z"));
    return "rested";
  }),
  inngest.createFunction({ id: "waiter", triggers: [{ event: "test/wait" }] }, async ({ step }) => {
    const approval = await step.waitForEvent("wait-approve",
      { event: "test/approve", timeout: "1h", if: "async.data.id == event.data.id" });
    return { approved: approval !== null, by: approval?.data?.by ?? null };
  }),
  inngest.createFunction({ id: "invoker", triggers: [{ event: "test/invoke" }] }, async ({ step }) => {
    const child = await step.invoke("call-child", {
      function: referenceFunction({ functionId: "child" }), data: { x: 21 }, timeout: "10m" });
    return { child };
  }),
  inngest.createFunction({ id: "repeat", triggers: [{ event: "test/repeat" }] }, async ({ step }) => {
    const out = [];
    for (let i = 0; i < 3; i++) out.push(await step.run("item", () => i));
    return out;
  }),
  inngest.createFunction({ id: "sender", triggers: [{ event: "test/send" }] }, async ({ step }) => {
    const sentIds = await step.sendEvent("send-it", { name: "test/other", data: { n: 1 } });
    return sentIds;
  }),
  inngest.createFunction({ id: "flaky", triggers: [{ event: "test/flaky" }] }, async ({ step }) => {
    await step.run("boom", () => { throw new Error("boom"); });
    return "unreachable";
  }),
  inngest.createFunction({ id: "fatal", triggers: [{ event: "test/fatal" }] }, async ({ step }) => {
    await step.run("no-retry", () => { throw new NonRetriableError("card declined"); });
  }),
  inngest.createFunction({ id: "later", triggers: [{ event: "test/later" }] }, async ({ step }) => {
    await step.run("rate-limited", () => { throw new RetryAfterError("slow down", 30_000); });
  }),
  inngest.createFunction({ id: "catcher", triggers: [{ event: "test/catch" }] }, async ({ step }) => {
    try {
      await step.run("boom", () => "never");
    } catch (err) {
      return { caught: err.message };
    }
  }),
  inngest.createFunction({ id: "uncaught", triggers: [{ event: "test/uncaught" }] }, async ({ step }) => {
    await step.run("boom", () => "never");
  }),
  inngest.createFunction({ id: "fn-error", triggers: [{ event: "test/fn-error" }] }, async () => {
    throw new Error("function level failure");
  }),
];

const app = http.createServer(serve({ client: inngest, functions: fns }));
const appPort = await listen(app);

const ev = (name, data = {}) =>
  ({ data, id: "01HEVT" + name.replace(/\W/g, ""), name, ts: 1700000000000, user: {} });
const sha1 = async (s) => {
  const { createHash } = await import("node:crypto");
  return createHash("sha1").update(s).digest("hex");
};
const body = (event, steps = {}, ctx = {}) => {
  const stack = Object.keys(steps);
  return {
    ctx: { attempt: 0, disable_immediate_execution: false, max_attempts: 4, run_id: "01HRUN0000000000000000002",
      stack: { current: stack.length, stack }, use_api: false, ...ctx },
    event, events: [event], steps, version: 2,
  };
};

const HEADERS = ["content-type", "x-inngest-req-version", "x-inngest-no-retry", "retry-after", "x-inngest-sdk"];
async function call(fnId, stepId, reqBody) {
  const query = { fnId: `probe-app-${fnId}`, stepId };
  const url = `http://127.0.0.1:${appPort}/?fnId=${query.fnId}&stepId=${stepId}`;
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(reqBody) });
  const text = await res.text();
  const headers = {};
  for (const h of HEADERS) if (res.headers.has(h)) headers[h] = res.headers.get(h);
  // Stacks name paths of this machine: keep their first line only. `timing` is left as the SDK wrote it.
  const body = JSON.parse(text, (k, v) => (k === "stack" && typeof v === "string" ? v.split("\n")[0] : v));
  return { request: { query, body: reqBody }, response: { status: res.status, headers, body } };
}

async function scenario(name, description, fnId, steps) {
  const calls = [];
  for (const s of steps) calls.push(await call(fnId, s.stepId ?? "step", s.body));
  writeFileSync(join(here, `${name}.json`), JSON.stringify({ description, calls }, null, 2) + "\n");
}

const h = Object.fromEntries(await Promise.all(
  ["a", "b", "p1", "p2", "p3", "sum", "boom", "no-retry", "rate-limited", "item", "item:1", "item:2"]
    .map(async (s) => [s, await sha1(s)])));

const E = ev("test/steps", { id: 7, name: "probe" });
await scenario("steps", "protocol.md §7: a = step.run('a', () => 'A'); b = step.run('b', () => a + 'B'); return { b }", "steps", [
  { body: body(E) },
  { body: body(E, { [h.a]: { data: "A" } }) },
  { body: body(E, { [h.a]: { data: "A" }, [h.b]: { data: "AB" } }) },
]);

const P = ev("test/parallel");
await scenario("parallel", "Promise.all of p1, p2, p3 (1, 2, 3), then sum; planned, executed by id, memoized in completion order", "parallel", [
  { body: body(P) },
  { stepId: h.p2, body: body(P, {}, { disable_immediate_execution: true }) },
  { body: body(P, { [h.p3]: { data: 3 }, [h.p1]: { data: 1 }, [h.p2]: { data: 2 } }, { disable_immediate_execution: true }) },
  { body: body(P, { [h.p3]: { data: 3 }, [h.p1]: { data: 1 }, [h.p2]: { data: 2 } }) },
  { body: body(P, { [h.p3]: { data: 3 }, [h.p1]: { data: 1 }, [h.p2]: { data: 2 }, [h.sum]: { data: 6 } }) },
]);

const S = ev("test/sleep");
await scenario("sleep", "sleep 90 s then sleepUntil 2026-11-28T04:46:01.824Z", "sleeper", [
  { body: body(S) },
  { body: body(S, { [await sha1("nap")]: null }) },
  { body: body(S, { [await sha1("nap")]: null, [await sha1("nap-until")]: null }) },
]);

const W = ev("test/wait", { id: 3 });
await scenario("wait-for-event", "waitForEvent test/approve, timeout 1h, if async.data.id == event.data.id", "waiter", [
  { body: body(W) },
  { body: body(W, { [await sha1("wait-approve")]: ev("test/approve", { id: 3, by: "ann" }) }) },
  { body: body(W, { [await sha1("wait-approve")]: null }) },
]);

const I = ev("test/invoke");
await scenario("invoke", "invoke probe-app-child with data {x:21}, timeout 10m", "invoker", [
  { body: body(I) },
  { body: body(I, { [await sha1("call-child")]: { data: { doubled: 42 } } }) },
]);

const R = ev("test/repeat");
await scenario("repeat", "the same step id three times in a loop: item, item:1, item:2", "repeat", [
  { body: body(R) },
  { body: body(R, { [h.item]: { data: 0 } }) },
  { body: body(R, { [h.item]: { data: 0 }, [h["item:1"]]: { data: 1 } }) },
  { body: body(R, { [h.item]: { data: 0 }, [h["item:1"]]: { data: 1 }, [h["item:2"]]: { data: 2 } }) },
]);

const SE = ev("test/send");
await scenario("send-event", "step.sendEvent('send-it', {name:'test/other', data:{n:1}}); the fake event API answers two-digit ids", "sender", [
  { body: body(SE) },
  { body: body(SE, { [await sha1("send-it")]: { data: { ids: ["01HFAKEEVENTID000000000000"] } } }) },
]);

const F = ev("test/flaky");
await scenario("step-error", "a step that throws: StepError on attempt 0 of 4, StepFailed on attempt 3 (final), then the memoized error fails the run", "flaky", [
  { body: body(F) },
  { body: body(F, {}, { attempt: 3 }) },
  { body: body(F, { [h.boom]: { error: { name: "Error", message: "boom", stack: "Error: boom" } } }) },
]);

const N = ev("test/fatal");
await scenario("non-retriable", "NonRetriableError inside a step: StepFailed on attempt 0", "fatal", [
  { body: body(N) },
]);

const L = ev("test/later");
await scenario("retry-after", "RetryAfterError('slow down', 30 s) inside a step: StepError with Retry-After: 30", "later", [
  { body: body(L) },
]);

const C = ev("test/catch");
await scenario("caught-step-error", "a memoized step error caught by the function", "catcher", [
  { body: body(C, { [h.boom]: { error: { name: "CustomError", message: "card declined", stack: "" } } }) },
]);

const U = ev("test/uncaught");
await scenario("uncaught-step-error", "a memoized step error not caught: 400, no retry, the original name and message", "uncaught", [
  { body: body(U, { [h.boom]: { error: { name: "CustomError", message: "card declined", stack: "" } } }) },
]);

const FE = ev("test/fn-error");
await scenario("function-error", "an error outside steps: 500 retriable on attempt 0, 400 final on attempt 3 of 4", "fn-error", [
  { body: body(FE) },
  { body: body(FE, {}, { attempt: 3 }) },
]);

writeFileSync(join(here, "send-event.sent.json"), JSON.stringify(sent, null, 2) + "\n");
app.close();
platform.close();
