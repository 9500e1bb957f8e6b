/**
 * Gateway throughput at saturation on one core: the gateway runs alone in a child process (one
 * event loop, so one core), a mock upstream answering at once runs in this process, and a
 * closed-loop client keeps `concurrency` requests in flight. Reports requests/s and the gateway's
 * CPU use over the run (from /proc), so the figure can be read per core.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { startGateway } from "../src/gateway/proxy.js";
import { configFor, KEY_A, nullAppendable } from "../test/gateway/harness.js";
import { startMockUpstream } from "../test/gateway/mock-upstream.js";

export interface Saturation {
  mode: string;
  requestsPerSecond: number;
  /** Gateway CPU seconds per wall second over the run (1 = one full core). */
  gatewayCpu: number;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

function post(agent: http.Agent, url: string, payload: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY_A}` },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

export async function measureSaturation(seconds = 8, concurrency = 32): Promise<Saturation[]> {
  const mock = await startMockUpstream({ tokens: 8, promptTokens: 20 });
  const child = spawn(
    process.execPath,
    ["--import", "tsx", new URL(import.meta.url).pathname, "child", mock.base],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once("data", (d: Buffer) => resolve(String(d).trim()));
    child.once("exit", (code) => reject(new Error(`gateway child exited with ${code}`)));
  });
  const out: Saturation[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  try {
    for (const stream of [false, true]) {
      const payload = JSON.stringify({
        model: "small-8b",
        messages: [{ role: "user", content: "hello" }],
        stream,
      });
      const target = `${url}/v1/chat/completions`;
      // Warm up connections and the JIT.
      await Promise.all(Array.from({ length: concurrency * 10 }, () => post(agent, target, payload)));
      const cpu0 = cpuSeconds(child.pid as number);
      const t0 = performance.now();
      const deadline = t0 + seconds * 1000;
      let done = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < deadline) {
            await post(agent, target, payload);
            done++;
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      out.push({
        mode: stream ? "stream" : "non-stream",
        requestsPerSecond: Math.round(done / wall),
        gatewayCpu: Math.round(((cpuSeconds(child.pid as number) - cpu0) / wall) * 100) / 100,
      });
    }
  } finally {
    agent.destroy();
    child.kill("SIGTERM");
    await mock.close();
  }
  return out;
}

if (process.argv[2] === "child") {
  const gw = await startGateway({
    config: configFor(process.argv[3]),
    appendable: nullAppendable,
    flushIntervalMs: 0,
  });
  process.stdout.write(`${gw.url}\n`);
  process.on("SIGTERM", () => gw.close().then(() => process.exit(0)));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await measureSaturation()) {
    console.log(`${r.mode}: ${r.requestsPerSecond} requests/s, gateway CPU ${r.gatewayCpu} cores`);
  }
}
