/**
 * The mock model server's latencies as a client sees them on real timers: many concurrent streams,
 * client-measured TTFT and TPOT medians against the profile's, and the server's own drift (what it
 * wrote against what it drew). Timer and event-loop overhead on this machine is what it shows, so
 * it is a benchmark, not a test (test/sim/latency.test.ts checks the scheduling on a fake clock).
 * Target: both medians within 15 % of the profile, server-side drift within 5 %.
 *
 *   node --import tsx bench/sim-latency.ts [requests=150] [concurrency=40]
 *
 * Connections are opened (and the code paths warmed) before measuring: on a busy 2-core machine a
 * burst of 40 new connections alone takes tens of milliseconds, which is the client's cost, not
 * the server's latency.
 */
import http from "node:http";
import { startModelServer } from "../src/sim/model-server.js";
import { median, postStream } from "../test/sim/helpers.js";

const TTFT = 0.25;
const TPOT = 0.015;
const TOKENS = 30;
const REQUESTS = Number(process.argv[2] ?? 150);
/** Streams open at once, on average. */
const CONCURRENCY = Number(process.argv[3] ?? 40);

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
  // would make the last request of each burst wait for the other ones to be parsed first.
  const gapMs = ((TTFT + TOKENS * TPOT) * 1000) / CONCURRENCY;
  const runs: Array<Promise<void>> = [];
  for (let i = 0; i < REQUESTS; i++) {
    runs.push(
      postStream(url, body(TOKENS), agent).then((r) => {
        if (r.contentTokens !== TOKENS || r.firstTokenMs === undefined || r.lastTokenMs === undefined) {
          throw new Error(`a stream brought ${r.contentTokens} tokens, want ${TOKENS}`);
        }
        ttfts.push(r.firstTokenMs / 1000);
        tpots.push((r.lastTokenMs - r.firstTokenMs) / 1000 / (TOKENS - 1));
      }),
    );
    await new Promise((r) => setTimeout(r, gapMs));
  }
  await Promise.all(runs);
  const ttft = median(ttfts);
  const tpot = median(tpots);
  const log = server.requestLog().filter((r) => r.completionTokens === TOKENS);
  const drift = median(log.map((r) => (r.measuredTpot ?? Number.NaN) / r.tpot));
  const pct = (x: number) => `${((x - 1) * 100).toFixed(1)} %`;
  const ok =
    Math.abs(ttft / TTFT - 1) < 0.15 && Math.abs(tpot / TPOT - 1) < 0.15 && Math.abs(drift - 1) < 0.05;
  console.log(`${REQUESTS} streams, ~${CONCURRENCY} open at a time, ${TOKENS} tokens each`);
  console.log(`client TTFT median ${ttft.toFixed(4)} s (profile ${TTFT}, ${pct(ttft / TTFT)})`);
  console.log(`client TPOT median ${tpot.toFixed(4)} s (profile ${TPOT}, ${pct(tpot / TPOT)})`);
  console.log(`server-side TPOT drift (written / drawn) median ${pct(drift)}`);
  console.log(`within target (±15 % client, ±5 % drift): ${ok ? "yes" : "no"}`);
  console.log(JSON.stringify({ requests: REQUESTS, concurrency: CONCURRENCY, ttft, tpot, drift, ok }));
} finally {
  agent.destroy();
  await server.close();
}
