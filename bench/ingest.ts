/**
 * `npm run bench:ingest`: the data-in paths, side by side with references in the same run.
 *  1. Gateway added latency: p50/p99 through the gateway against calling the upstream directly.
 *  2. Gateway requests/s at saturation on one core.
 *  3. Remote-write samples/s into this service and into Prometheus 2.42 fed identical payloads.
 *  4. Remote-write in one process, no HTTP: the store alone, the receiver, the receiver with the
 *     tenant guard (bench/remote-write-inproc.ts).
 * The last line is JSON with every figure.
 */
import { measureAddedLatency } from "./gateway-latency.js";
import { measureSaturation } from "./gateway-saturation.js";
import { runRemoteWriteComparison } from "./remote-write.js";
import { runInProcessRemoteWrite } from "./remote-write-inproc.js";

const f = (x: number) => `${x.toFixed(3)} ms`;
const summary: Record<string, number> = {};

console.log("gateway: added latency (sequential requests over keep-alive, mock upstream answering at once)");
for (const r of await measureAddedLatency(Number(process.env.LATENCY_REQUESTS ?? 2000))) {
  console.log(
    `  ${r.mode}: direct p50 ${f(r.directP50)} p99 ${f(r.directP99)}; via gateway p50 ${f(r.viaP50)} p99 ${f(r.viaP99)}; added p50 ${f(r.viaP50 - r.directP50)} p99 ${f(r.viaP99 - r.directP99)}`,
  );
  const key = r.mode === "stream" ? "stream" : "nonstream";
  summary[`gateway_added_p50_ms_${key}`] = Math.round((r.viaP50 - r.directP50) * 1000) / 1000;
  summary[`gateway_added_p99_ms_${key}`] = Math.round((r.viaP99 - r.directP99) * 1000) / 1000;
}

console.log("gateway: saturation (gateway alone in one process, 32 requests in flight)");
for (const r of await measureSaturation()) {
  console.log(`  ${r.mode}: ${r.requestsPerSecond} requests/s with the gateway using ${r.gatewayCpu} cores`);
  const key = r.mode === "stream" ? "stream" : "nonstream";
  summary[`gateway_rps_${key}`] = r.requestsPerSecond;
  summary[`gateway_cpu_${key}`] = r.gatewayCpu;
}

Object.assign(summary, await runRemoteWriteComparison());
Object.assign(summary, runInProcessRemoteWrite());
console.log(JSON.stringify(summary));
