/**
 * Many concurrent streams on the server's one token clock, stepped on a fake time source: every
 * stream's first token is written at arrival + its drawn TTFT and the others its drawn TPOT apart
 * (to the clock's 1 ms grain and slack), and the drawn latencies follow the profile. With fake
 * time these hold exactly on any machine. How close real timers and a loaded event loop come to
 * the profile, measured from the client, is bench/sim-latency.ts.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";
import { startModelServer } from "../../src/sim/model-server.js";
import { TokenClock } from "../../src/sim/token-clock.js";
import { FakeTime } from "../support/fake-time.js";
import { until } from "../support/until.js";
import { median, postStream } from "./helpers.js";

const TTFT = 0.25;
const TPOT = 0.015;
const REQUESTS = 150;
/** Streams open at once, on average. */
const CONCURRENCY = 40;
const TOKENS = 30;

test("concurrent streams write every token at its drawn time; the draws follow the profile", async () => {
  const time = new FakeTime();
  const server = await startModelServer({
    models: { m: { ttft: { median: TTFT, sigma: 0.3 }, tpot: { median: TPOT, sigma: 0.3 } } },
    seed: 7,
    clock: new TokenClock(1, time),
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: REQUESTS });
  try {
    const url = `${server.baseUrl}/chat/completions`;
    const body = {
      model: "m",
      messages: [{ role: "user", content: "Measure me." }],
      max_tokens: TOKENS,
      stream: true,
    };
    // Arrivals evenly spread in fake time, so that ~CONCURRENCY streams are open at a time and
    // their deadlines interleave on the clock. Time stands still until the server has taken the
    // request in, so its arrival is exactly the time set here.
    const gapMs = ((TTFT + TOKENS * TPOT) * 1000) / CONCURRENCY;
    const start = time.now();
    const runs: Array<Promise<number>> = [];
    for (let i = 0; i < REQUESTS; i++) {
      time.advanceTo(start + i * gapMs);
      runs.push(postStream(url, body, agent).then((r) => r.contentTokens));
      await until(() => server.stats().total.requests === i + 1, `request ${i} taken in`);
    }
    time.runAll();
    assert.deepEqual(await Promise.all(runs), Array(REQUESTS).fill(TOKENS), "every stream, every token");

    const log = server.requestLog();
    assert.equal(log.length, REQUESTS);
    for (const r of log) {
      assert.equal(r.outcome, "ok");
      assert.equal(r.tokensSent, TOKENS);
      // Tokens due within the 1 ms slack go out together and the timer is set in whole ms, so a
      // write is within 1 ms of its deadline: TPOT within 2 ms over the n − 1 gaps.
      assert.ok(
        Math.abs((r.measuredTtft ?? Number.NaN) - r.ttft) < 0.001,
        `#${r.index} TTFT ${r.measuredTtft} vs ${r.ttft}`,
      );
      assert.ok(
        Math.abs((r.measuredTpot ?? Number.NaN) - r.tpot) < 0.002 / (TOKENS - 1),
        `#${r.index} TPOT ${r.measuredTpot} vs ${r.tpot}`,
      );
    }
    // With σ = 0.3 and 150 draws the median's sampling error is ~3 %; 10 % is over three of them
    // (and the seed makes the draws the same on every run).
    const ttft = median(log.map((r) => r.ttft));
    const tpot = median(log.map((r) => r.tpot));
    assert.ok(Math.abs(ttft / TTFT - 1) < 0.1, `TTFT median ${ttft} vs ${TTFT}`);
    assert.ok(Math.abs(tpot / TPOT - 1) < 0.1, `TPOT median ${tpot} vs ${TPOT}`);
  } finally {
    agent.destroy();
    await server.close();
  }
});
