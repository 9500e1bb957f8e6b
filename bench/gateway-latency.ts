/**
 * Measures the latency the gateway adds: the same requests, one at a time over keep-alive
 * connections, sent to a mock upstream directly and through the gateway, interleaved so both see
 * the same machine state. Prints p50/p99 of each and of the difference.
 *
 *   node --import tsx bench/gateway-latency.ts [requests=3000]
 *
 * Everything runs in one process, so the figure includes the gateway's CPU time on the shared
 * event loop (what a request pays) but no network hop.
 */
import http from "node:http";
import { performance } from "node:perf_hooks";
import { startGateway } from "../src/gateway/proxy.js";
import { configFor, KEY_A, nullAppendable } from "../test/gateway/harness.js";
import { startMockUpstream } from "../test/gateway/mock-upstream.js";

export interface AddedLatency {
  mode: string;
  directP50: number;
  directP99: number;
  viaP50: number;
  viaP99: number;
}

function once(agent: http.Agent, url: string, payload: string, key: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (key) headers.authorization = `Bearer ${key}`;
    const req = http.request(url, { method: "POST", agent, headers });
    req.on("response", (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve(performance.now() - t0));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

export async function measureAddedLatency(n: number): Promise<AddedLatency[]> {
  const mock = await startMockUpstream({ tokens: 8, promptTokens: 20 });
  const gw = await startGateway({
    config: configFor(mock.base),
    appendable: nullAppendable,
    flushIntervalMs: 0,
  });
  const out: AddedLatency[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const stream of [false, true]) {
      const payload = JSON.stringify({
        model: "small-8b",
        messages: [{ role: "user", content: "hello" }],
        stream,
      });
      const direct: number[] = [];
      const via: number[] = [];
      for (let i = 0; i < n + 300; i++) {
        const d = await once(agent, `${mock.base}/chat/completions`, payload, undefined);
        const v = await once(agent, `${gw.url}/v1/chat/completions`, payload, KEY_A);
        if (i >= 300) {
          direct.push(d);
          via.push(v);
        }
      }
      out.push({
        mode: stream ? "stream" : "non-stream",
        directP50: pct(direct, 0.5),
        directP99: pct(direct, 0.99),
        viaP50: pct(via, 0.5),
        viaP99: pct(via, 0.99),
      });
    }
  } finally {
    await gw.close();
    await mock.close();
    agent.destroy();
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 3000);
  for (const r of await measureAddedLatency(n)) {
    const f = (x: number) => `${x.toFixed(3)} ms`;
    console.log(
      `${r.mode.padEnd(10)} direct p50 ${f(r.directP50)} p99 ${f(r.directP99)} | via gateway p50 ${f(r.viaP50)} p99 ${f(r.viaP99)} | added p50 ${f(r.viaP50 - r.directP50)} p99 ${f(r.viaP99 - r.directP99)}`,
    );
  }
}
