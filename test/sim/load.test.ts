import assert from "node:assert/strict";
import { test } from "node:test";
import { deriveSeed } from "../../src/sim/distributions.js";
import { runLoad, startLoad } from "../../src/sim/load.js";
import { drawRequest } from "../../src/sim/load-request.js";
import { type ModelProfile, startModelServer } from "../../src/sim/model-server.js";
import { mulberry32 } from "../../src/sim/random.js";
import { until } from "../support/until.js";

const QUICK: ModelProfile = {
  ttft: { median: 0.005, sigma: 0.3 },
  tpot: { median: 0.001, sigma: 0.3 },
  outputTokens: { kind: "lognormal", median: 15, sigma: 0.5, min: 1, max: 60 },
};
const SMALL = {
  promptTokens: { kind: "lognormal", median: 50, sigma: 0.8, min: 1, max: 400 },
  maxTokens: { kind: "lognormal", median: 15, sigma: 0.5, min: 1, max: 60 },
} as const;

test("an exact number of requests: the load's counts equal the server's, per model", async () => {
  // Every mix branch half the time, so streams with and without usage, chat and completions,
  // max_tokens set and not all occur; a few injected failures of both kinds.
  const server = await startModelServer({
    models: { a: QUICK, b: QUICK },
    seed: 3,
    errorRate: 0.05,
    cutRate: 0.05,
  });
  try {
    const stats = await runLoad({
      baseUrl: server.url,
      seed: 11,
      streams: [
        { apiKey: "k1", model: "a", rate: 200, count: 60 },
        { apiKey: "k2", model: "a", rate: 200, count: 40 },
        { apiKey: "k1", model: "b", rate: 200, count: 50 },
      ],
      chatFraction: 0.5,
      streamFraction: 0.7,
      includeUsageFraction: 0.5,
      maxTokensFraction: 0.5,
      ...SMALL,
    });
    const s = server.stats();
    assert.equal(stats.total.sent, 150);
    assert.equal(stats.inFlight, 0);
    assert.deepEqual(
      stats.entries.map((e) => [e.apiKey, e.model, e.sent, e.ok + e.errors]),
      [
        ["k1", "a", 60, 60],
        ["k2", "a", 40, 40],
        ["k1", "b", 50, 50],
      ],
    );
    for (const model of ["a", "b"]) {
      const mine = stats.entries.filter((e) => e.model === model);
      const sum = (f: (e: (typeof mine)[number]) => number) => mine.reduce((acc, e) => acc + f(e), 0);
      const theirs = s.byModel[model];
      assert.equal(
        sum((e) => e.sent),
        theirs.requests,
        `${model}: requests`,
      );
      assert.equal(
        sum((e) => e.ok),
        theirs.ok,
        `${model}: ok`,
      );
      assert.equal(
        sum((e) => e.errors),
        theirs.errors + theirs.cut,
        `${model}: errors`,
      );
      // Exact, including the streams without usage: the load counts their content chunks and uses
      // the same prompt estimate as the server.
      assert.equal(
        sum((e) => e.inputTokens),
        theirs.promptTokens,
        `${model}: input tokens`,
      );
      assert.equal(
        sum((e) => e.outputTokens),
        theirs.completionTokens,
        `${model}: output tokens`,
      );
    }
    const t = stats.total;
    assert.ok(t.usageMissing > 10, "some streams had no usage chunk");
    assert.equal(t.unexpectedUsage, 0);
    assert.ok(t.errors > 0 && t.errors === s.total.errors + s.total.cut);
    assert.equal(t.errorsByKind.http_500, s.total.errors);
    // A cut before the response headers (non-streaming) is a network error, after them incomplete.
    assert.equal((t.errorsByKind.incomplete ?? 0) + (t.errorsByKind.network ?? 0), s.total.cut);
    // The mix really was mixed.
    const log = server.requestLog();
    for (const pred of [
      (r: (typeof log)[number]) => r.endpoint === "chat",
      (r: (typeof log)[number]) => r.stream && r.includeUsage,
      (r: (typeof log)[number]) => r.stream && !r.includeUsage,
      (r: (typeof log)[number]) => !r.stream,
      (r: (typeof log)[number]) => r.maxTokens === undefined,
    ]) {
      const n = log.filter(pred).length;
      assert.ok(n > 10 && n < 140, `mix branch taken ${n} times`);
    }
  } finally {
    await server.close();
  }
});

test("stop() ends the arrivals and waits for the requests in flight", async () => {
  const server = await startModelServer({
    models: { m: { ttft: { median: 0.15, sigma: 0.1 }, tpot: { median: 0.005, sigma: 0.1 } } },
  });
  try {
    const load = startLoad({
      baseUrl: server.url,
      streams: [
        { apiKey: "k", model: "m", rate: 40 },
        { apiKey: "j", model: "m", rate: 20 },
      ],
      ...SMALL,
    });
    // Stop while requests are open (each takes ≥ 150 ms), whenever that happens on this machine.
    await until(() => load.stats().inFlight > 0 && load.stats().total.sent >= 5, "requests in flight");
    await load.stop();
    const after = load.stats();
    assert.equal(after.inFlight, 0);
    assert.equal(after.total.ok + after.total.errors, after.total.sent);
    assert.equal(after.total.errors, 0);
    assert.ok(after.total.sent >= 5, `sent ${after.total.sent}`);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(load.stats().total.sent, after.total.sent, "nothing sent after stop()");
    assert.equal(server.stats().total.requests, after.total.sent);
    assert.equal(server.stats().total.ok, after.total.ok);
    await load.done;
  } finally {
    await server.close();
  }
});

test("maxInFlight bounds the open requests; errors are counted by kind", async () => {
  const server = await startModelServer({
    models: { m: { ttft: { median: 0.05, sigma: 0 }, tpot: { median: 0.001, sigma: 0 } } },
  });
  try {
    let peak = 0;
    const load = startLoad({
      baseUrl: server.url,
      streams: [
        { apiKey: "k", model: "m", rate: 500, count: 30 },
        { apiKey: "k", model: "unknown", rate: 500, count: 5 },
      ],
      maxInFlight: 4,
      ...SMALL,
    });
    const probe = setInterval(() => {
      peak = Math.max(peak, load.stats().inFlight);
    }, 2);
    await load.done;
    clearInterval(probe);
    const s = load.stats();
    assert.ok(peak <= 4, `peak ${peak}`);
    assert.deepEqual(
      s.entries.map((e) => [e.model, e.sent, e.ok, e.errors, e.errorsByKind]),
      [
        ["m", 30, 30, 0, {}],
        ["unknown", 5, 0, 5, { http_404: 5 }],
      ],
    );
  } finally {
    await server.close();
  }
});

test("a stream's requests are the same on every run (seeded)", () => {
  const draw = () => {
    const rand = mulberry32(deriveSeed(5, 0));
    return Array.from({ length: 20 }, () => drawRequest(rand, "m", {}));
  };
  assert.deepEqual(draw(), draw());
  const other = Array.from(
    { length: 20 },
    (
      (rand) => () =>
        drawRequest(rand, "m", {})
    )(mulberry32(deriveSeed(5, 1))),
  );
  assert.notDeepEqual(draw(), other);
});

test("the load refuses a non-positive rate", () => {
  assert.throws(() =>
    startLoad({ baseUrl: "http://127.0.0.1:1", streams: [{ apiKey: "k", model: "m", rate: 0 }] }),
  );
});

test("the load refuses a bad length distribution at once", () => {
  assert.throws(
    () =>
      startLoad({
        baseUrl: "http://127.0.0.1:1",
        streams: [{ apiKey: "k", model: "m", rate: 1 }],
        promptTokens: { kind: "lognormal", median: 0, sigma: 1 },
      }),
    /median must be > 0/,
  );
});

test("stop(graceMs) aborts what is still open after the grace period", async () => {
  const server = await startModelServer({
    models: { m: { ttft: { median: 0.05, sigma: 0 }, tpot: { median: 0.5, sigma: 0 } } },
  });
  try {
    const load = startLoad({
      baseUrl: server.url,
      streams: [{ apiKey: "k", model: "m", rate: 50, count: 5 }],
      streamFraction: 1,
      maxTokens: { kind: "constant", value: 100 },
      maxTokensFraction: 1,
    });
    // All five in the server's hands (their streams last 50 s), so each is open when stop() aborts.
    await until(() => server.stats().total.requests === 5, "the five requests taken in");
    const t0 = performance.now();
    await load.stop(100);
    // A 100 ms grace against 50 s streams: ten times the grace still tells the two apart.
    assert.ok(performance.now() - t0 < 1000, "did not wait for the 50 s streams");
    const s = load.stats();
    assert.equal(s.inFlight, 0);
    assert.equal(s.total.sent, 5);
    assert.deepEqual(s.total.errorsByKind, { aborted: 5 });
    await until(() => server.stats().total.clientClosed === 5, "the server saw the five aborted");
  } finally {
    await server.close();
  }
});
