/**
 * Measured from the client, the TTFT and TPOT medians of many concurrent streams are within 15% of
 * the configured ones. With σ = 0.3 and 150 requests the sampling error of a median is ~3%, so the
 * margin is for timer and event-loop overhead, which is what this test is about.
 *
 * Connections are opened (and the code paths warmed) before measuring: on a busy 2-core machine a
 * burst of 40 new connections alone takes tens of milliseconds, which is the client's cost, not
 * the server's latency.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { test } from "node:test";
import { startModelServer } from "../../src/sim/model-server.js";
import { median, postStream } from "./helpers.js";

const TTFT = 0.25;
const TPOT = 0.015;
const REQUESTS = 150;
/** Streams open at once, on average. */
const CONCURRENCY = 40;
const TOKENS = 30;

test("client-measured TTFT and TPOT medians match the profile within 15%", async (t) => {
  const server = await startModelServer({
    models: { m: { ttft: { median: TTFT, sigma: 0.3 }, tpot: { median: TPOT, sigma: 0.3 } } },
    seed: 7,
  });
  // Room above the average so that a momentary excess of open streams never queues in the agent.
  const SOCKETS = 2 * CONCURRENCY;
  const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS });
  try {
    const url = `${server.baseUrl}/chat/completions`;
    const body = (maxTokens: number) => ({
      model: "m",
      messages: [{ role: "user", content: "Measure me." }],
      max_tokens: maxTokens,
      stream: true,
    });
    await Promise.all(Array.from({ length: SOCKETS }, () => postStream(url, body(1), agent)));
    const ttfts: number[] = [];
    const tpots: number[] = [];
    // Arrivals evenly spread so that ~CONCURRENCY streams are open at a time: synchronized waves
    // would make the last request of each burst wait for the other 39 to be parsed first.
    const gapMs = ((TTFT + TOKENS * TPOT) * 1000) / CONCURRENCY;
    const runs: Array<Promise<void>> = [];
    for (let i = 0; i < REQUESTS; i++) {
      runs.push(
        postStream(url, body(TOKENS), agent).then((r) => {
          assert.equal(r.contentTokens, TOKENS);
          ttfts.push(r.firstTokenMs! / 1000);
          tpots.push((r.lastTokenMs! - r.firstTokenMs!) / 1000 / (TOKENS - 1));
        }),
      );
      await new Promise((r) => setTimeout(r, gapMs));
    }
    await Promise.all(runs);
    assert.equal(ttfts.length, REQUESTS);
    const ttft = median(ttfts);
    const tpot = median(tpots);
    t.diagnostic(`TTFT median ${ttft.toFixed(4)} s, TPOT median ${tpot.toFixed(4)} s`);
    assert.ok(Math.abs(ttft / TTFT - 1) < 0.15, `TTFT median ${ttft} vs ${TTFT}`);
    assert.ok(Math.abs(tpot / TPOT - 1) < 0.15, `TPOT median ${tpot} vs ${TPOT}`);

    // The server's own view agrees with what it drew (no drift from late timers).
    const log = server.requestLog().filter((r) => r.completionTokens === TOKENS);
    const drift = log.map((r) => r.measuredTpot! / r.tpot);
    assert.ok(Math.abs(median(drift) - 1) < 0.05, `server-side TPOT drift ${median(drift)}`);
  } finally {
    agent.destroy();
    await server.close();
  }
});
