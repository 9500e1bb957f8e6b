/**
 * Tenant isolation under a hostile flood (`npm run bench:isolation`).
 *
 * Three processes, as in production where the service, an attacker and a customer are different
 * machines' programs (here they share the 2 cores, as a loaded node would):
 *
 *  - the service (`ISOLATION_ROLE=service`): one embedded service with the production limits
 *    (rate limits, admission, query workers) holding an hour of a synthetic fleet (bench/fleet.ts);
 *  - the flood (`ISOLATION_ROLE=flood`): for FLOOD_SECONDS, CLIENTS clients of one hostile project
 *    loop over expensive and pathological queries (backtracking regexes, 10,000-operator chains,
 *    wide ranges, nested subqueries), each with `timeout=3s`;
 *  - this one: a neighbour project refreshes the metrics page (the 1 h range's nine range queries
 *    and the output total, sent at once as the page does) every 500 ms, REFRESHES times idle and
 *    then throughout the flood, while a probe polls /-/healthy every 50 ms and a sender
 *    remote-writes a small batch every 100 ms.
 *
 * The load generators run outside the service so that their own work (16 clients' HTTP and
 * parsing) is not charged to the service's event loop, which a real attacker's would never be.
 *
 * Reports the neighbour's page p99 idle and under the flood, /-/healthy and write acknowledgement
 * p99, how many flood answers came later than their timeout + 1 s, the flood's answers by status,
 * the service's event-loop delay, and its peak RSS (VmHWM: query workers included). Targets:
 * neighbour p99 ≤ 2× idle, health and acks p99 < 100 ms, no flood answer past timeout + 1 s. The
 * last line is JSON.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { DEFAULT_LIMITS } from "../src/api/context.js";
import { TIMESERIES_PREFIX } from "../src/api/server.js";
import { startService } from "../src/cli/service.js";
import { encodeRemoteWriteBody, type TimeSeriesInput } from "../src/ingest/remote-write/index.js";
import { labelsFromObject } from "../src/storage/index.js";
import { testServiceConfig } from "../test/support/service-config.js";
import { PANELS, totalQuery } from "../web/src/queries.js";
import { Fleet, SCRAPE_INTERVAL_MS } from "./fleet.js";

const PROJECTS = Number(process.env.PROJECTS ?? 4);
const MODELS = Number(process.env.MODELS ?? 5);
const SCRAPES = Number(process.env.SCRAPES ?? 240);
const REFRESHES = Number(process.env.REFRESHES ?? 40);
const CLIENTS = Number(process.env.CLIENTS ?? 16);
const FLOOD_SECONDS = Number(process.env.FLOOD_SECONDS ?? 30);
const REFRESH_EVERY_MS = 500;
const TIMEOUT_S = 3;
const ADMIN_KEY = "mim_adm_bench-isolation-0123456789abcdef";

const HOSTILE = "proj-00000000";
const NEIGHBOUR = "proj-00000001";

const chain = (op: string, terms: number) => Array.from({ length: terms }, () => "2").join(op);
/** What a tenant trying to stall the service sends: each is an instant query unless `range`. */
const FLOOD: ReadonlyArray<{ name: string; query: string; range?: { seconds: number; step: number } }> = [
  { name: "regex-repeat", query: '{project_id=~"(.*){70}x"}' },
  { name: "regex-values", query: '{model_name=~"b(.*){8}x"}' },
  {
    name: "regex-label-replace",
    query:
      'label_replace(label_replace(vector(1),"src","aaaaaaaaaaaaaaaaaaaaaaaaaaaa!","",""),"dst","$1","src","(a+)+b")',
  },
  { name: "chain-plus", query: chain("+", 10_000) },
  { name: "chain-power", query: chain("^", 10_000) },
  { name: "nested-subquery", query: "sum_over_time(sum_over_time(vector(1)[1d:1s])[1d:1m])" },
  { name: "wide-range", query: 'rate({__name__=~"crusoe.+"}[5m])', range: { seconds: 7 * 86400, step: 60 } },
  { name: "wide-window", query: 'count_over_time({__name__=~".+"}[30d])' },
];

/** FLOOD_ONLY=name,name runs a part of the flood (to see which part costs the neighbour most). */
const ONLY = process.env.FLOOD_ONLY?.split(",");
const FLOOD_RUN = ONLY ? FLOOD.filter((q) => ONLY.includes(q.name)) : FLOOD;

/** What the service process tells the others once it is ready. */
interface ServiceReady {
  url: string;
  hostileToken: string;
  neighbourToken: string;
  ingestToken: string;
  series: number;
}

/** What the flood process reports when its time is up. */
interface FloodReport {
  statuses: Record<string, number>;
  perQuery: Record<string, { answers: number; maxMs: number }>;
  pastTimeout: number;
  answers: number;
}

const round1 = (x: number) => Math.round(x * 10) / 10;
function quantile(ms: number[], q: number): number {
  if (ms.length === 0) return Number.NaN;
  const sorted = [...ms].sort((a, b) => a - b);
  return round1(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
}
const p99 = (ms: number[]) => quantile(ms, 0.99);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const base = (url: string, project: string) => url + TIMESERIES_PREFIX.replace(":projectId", project);

async function created(url: string, path: string, body: unknown): Promise<string> {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { token?: string };
  if (!json.token) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json.token;
}

/**
 * The service: fills the store, prints a ServiceReady line, then answers stdin commands —
 * `flood` restarts the event-loop delay histogram, `stats` prints the pool's counters and the
 * delay; end of input closes it.
 */
async function serviceRole(): Promise<void> {
  const dir = mkdtempSync(`${tmpdir()}/bench-isolation-`);
  const service = await startService(
    testServiceConfig(dir, ADMIN_KEY, { builtinRules: false, limits: { ...DEFAULT_LIMITS } }),
  );
  try {
    const fleet = new Fleet(PROJECTS, MODELS);
    const endMs = Math.floor(Date.now() / SCRAPE_INTERVAL_MS) * SCRAPE_INTERVAL_MS;
    const startMs = endMs - (SCRAPES - 1) * SCRAPE_INTERVAL_MS;
    const refs = new Float64Array(fleet.seriesCount);
    for (let s = 0; s < SCRAPES; s++) {
      fleet.step();
      const app = service.appendable.appender();
      for (let i = 0; i < fleet.seriesCount; i++)
        refs[i] = app.append(refs[i], fleet.labels[i], startMs + s * SCRAPE_INTERVAL_MS, fleet.values[i]);
      app.commit();
    }
    const ready: ServiceReady = {
      url: service.url,
      hostileToken: await created(service.url, `/v1alpha5/projects/${HOSTILE}/monitoring/tokens`, {
        name: "flood",
      }),
      neighbourToken: await created(service.url, `/v1alpha5/projects/${NEIGHBOUR}/monitoring/tokens`, {
        name: "page",
      }),
      ingestToken: await created(service.url, "/v1alpha5/ingest-tokens", { name: "sender" }),
      series: fleet.seriesCount,
    };
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    console.log(JSON.stringify(ready));
    for await (const line of createInterface({ input: process.stdin })) {
      if (line === "flood") delay.reset();
      if (line === "stats") {
        const ms = (ns: number) => round1(ns / 1e6);
        console.log(
          JSON.stringify({
            pool: service.queryPool?.stats ?? null,
            eventLoopDelayP99Ms: ms(delay.percentile(99)),
            eventLoopDelayMaxMs: ms(delay.max),
          }),
        );
      }
    }
  } finally {
    await service.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The hostile project's clients: prints `ready`, floods for FLOOD_SECONDS, prints a FloodReport. */
async function floodRole(): Promise<void> {
  const url = String(process.env.ISOLATION_URL);
  const token = String(process.env.ISOLATION_TOKEN);
  console.log("ready");
  const stopAt = performance.now() + FLOOD_SECONDS * 1000;
  const report: FloodReport = { statuses: {}, perQuery: {}, pastTimeout: 0, answers: 0 };
  async function client(c: number): Promise<void> {
    for (let i = c; performance.now() < stopAt; i++) {
      const q = FLOOD_RUN[i % FLOOD_RUN.length];
      const params: Record<string, string> = { query: q.query, timeout: `${TIMEOUT_S}s` };
      const now = Math.floor(Date.now() / 1000);
      let path = "/api/v1/query";
      if (q.range) {
        path = "/api/v1/query_range";
        Object.assign(params, {
          start: String(now - q.range.seconds),
          end: String(now),
          step: String(q.range.step),
        });
      }
      const t0 = performance.now();
      const res = await fetch(base(url, HOSTILE) + path, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(params).toString(),
      });
      await res.arrayBuffer();
      const ms = performance.now() - t0;
      report.answers++;
      report.statuses[res.status] = (report.statuses[res.status] ?? 0) + 1;
      const s = report.perQuery[q.name] ?? { answers: 0, maxMs: 0 };
      report.perQuery[q.name] = s;
      s.answers++;
      s.maxMs = Math.max(s.maxMs, round1(ms));
      if (ms > (TIMEOUT_S + 1) * 1000) report.pastTimeout++;
      // A refused client backs off a little, as a real one would after 429.
      if (res.status === 429) await sleep(50);
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  console.log(JSON.stringify(report));
}

/** Starts this file in another role; resolves the child and a reader of its stdout lines. */
function child(role: string, env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname], {
    env: { ...process.env, ...env, ISOLATION_ROLE: role },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error(`the ${role} process ended early (exit ${proc.exitCode})`);
    return r.value;
  };
  return { proc, next };
}

async function mainRole(): Promise<void> {
  const svc = child("service");
  try {
    const ready = JSON.parse(await svc.next()) as ServiceReady;
    console.log(
      `fleet: ${ready.series} series × ${SCRAPES} scrapes; ${CLIENTS} flood clients, ${FLOOD_SECONDS} s`,
    );

    // The page's 1 h view: every panel's range queries and the output total, all at once.
    const filters = { model: null, tier: null, splitTier: false };
    const step = 15;
    async function refreshPage(): Promise<number> {
      const to = Math.floor(Date.now() / 1000 / step) * step;
      const from = to - 3600;
      const urls: string[] = [];
      for (const panel of PANELS) {
        for (const q of panel.queries(NEIGHBOUR, filters)) {
          const qs = new URLSearchParams({
            query: q.query,
            start: String(from),
            end: String(to),
            step: String(step),
          });
          urls.push(`${base(ready.url, NEIGHBOUR)}/api/v1/query_range?${qs}`);
        }
        if (panel.totalOf) {
          const qs = new URLSearchParams({
            query: totalQuery(panel.totalOf, NEIGHBOUR, filters, 3600),
            time: String(to),
          });
          urls.push(`${base(ready.url, NEIGHBOUR)}/api/v1/query?${qs}`);
        }
      }
      const t0 = performance.now();
      await Promise.all(
        urls.map(async (url) => {
          const res = await fetch(url, { headers: { authorization: `Bearer ${ready.neighbourToken}` } });
          const body = await res.text();
          if (!res.ok) throw new Error(`neighbour page: HTTP ${res.status} ${body.slice(0, 200)}`);
        }),
      );
      return performance.now() - t0;
    }

    // A refresh every REFRESH_EVERY_MS keeps the page's token well inside its rate limit.
    const paced = async (out: number[]) => {
      const t0 = performance.now();
      out.push(await refreshPage());
      await sleep(Math.max(0, REFRESH_EVERY_MS - (performance.now() - t0)));
    };
    for (let i = 0; i < 3; i++) await paced([]); // warm the workers and connections
    const idle: number[] = [];
    for (let i = 0; i < REFRESHES; i++) await paced(idle);
    console.log(
      `neighbour page idle: p50 ${quantile(idle, 0.5)} ms, p99 ${p99(idle)} ms over ${idle.length} refreshes`,
    );

    const flood = child("flood", { ISOLATION_URL: ready.url, ISOLATION_TOKEN: ready.hostileToken });
    if ((await flood.next()) !== "ready") throw new Error("the flood process did not start");
    svc.proc.stdin.write("flood\n");
    const stopAt = performance.now() + FLOOD_SECONDS * 1000;
    const running = () => performance.now() < stopAt;

    async function probeHealth(out: number[]): Promise<void> {
      while (running()) {
        const t0 = performance.now();
        const res = await fetch(`${ready.url}/-/healthy`);
        await res.text();
        out.push(performance.now() - t0);
        await sleep(50);
      }
    }

    let written = 0;
    async function sender(out: number[]): Promise<void> {
      const series = Array.from({ length: 50 }, (_, i) =>
        labelsFromObject({ __name__: "isolation_probe", project_id: NEIGHBOUR, shard: String(i) }),
      );
      while (running()) {
        const t = Date.now();
        const timeseries: TimeSeriesInput[] = series.map((labels, i) => ({
          labels,
          samples: [{ timestamp: t, value: written + i }],
        }));
        const t0 = performance.now();
        const res = await fetch(`${ready.url}/api/v1/write`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${ready.ingestToken}`,
            "content-type": "application/x-protobuf",
            "content-encoding": "snappy",
            "x-prometheus-remote-write-version": "0.1.0",
          },
          body: encodeRemoteWriteBody({ timeseries }),
        });
        await res.text();
        if (res.status !== 204 && res.status !== 200) throw new Error(`remote-write: HTTP ${res.status}`);
        out.push(performance.now() - t0);
        written += series.length;
        await sleep(100);
      }
    }

    const health: number[] = [];
    const acks: number[] = [];
    const flooded: number[] = [];
    const [report] = await Promise.all([
      flood.next().then((line) => JSON.parse(line) as FloodReport),
      probeHealth(health),
      sender(acks),
      (async () => {
        while (running()) await paced(flooded);
      })(),
    ]);
    svc.proc.stdin.write("stats\n");
    const stats = JSON.parse(await svc.next()) as {
      pool: unknown;
      eventLoopDelayP99Ms: number;
      eventLoopDelayMaxMs: number;
    };
    // VmHWM: the service process's peak resident set, its query workers' heaps included.
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${svc.proc.pid}/status`, "latin1"));
    const rssPeak = hwm ? Number(hwm[1]) * 1024 : Number.NaN;

    for (const [name, s] of Object.entries(report.perQuery))
      console.log(`flood ${name.padEnd(20)} ${s.answers} answers, slowest ${s.maxMs} ms`);
    console.log(
      `flood answers by status: ${JSON.stringify(report.statuses)}; past timeout + 1 s: ${report.pastTimeout}`,
    );
    console.log(`query workers: ${JSON.stringify(stats.pool)}`);
    console.log(
      `service event-loop delay under the flood: p99 ${stats.eventLoopDelayP99Ms} ms, max ${stats.eventLoopDelayMaxMs} ms`,
    );
    const result = {
      neighbour_page_p99_ms: p99(flooded),
      neighbour_page_idle_p99_ms: p99(idle),
      neighbour_page_refreshes: flooded.length,
      healthy_p99_ms: p99(health),
      write_ack_p99_ms: p99(acks),
      samples_written: written,
      flood_answers: report.answers,
      flood_statuses: report.statuses,
      flood_answers_past_timeout: report.pastTimeout,
      event_loop_delay_p99_ms: stats.eventLoopDelayP99Ms,
      rss_peak_bytes: rssPeak,
    };
    const targets = {
      neighbour_within_2x_idle: result.neighbour_page_p99_ms <= 2 * result.neighbour_page_idle_p99_ms,
      healthy_under_100ms: result.healthy_p99_ms < 100,
      write_ack_under_100ms: result.write_ack_p99_ms < 100,
      none_past_timeout: report.pastTimeout === 0,
    };
    console.log(
      `neighbour page under the flood: p50 ${quantile(flooded, 0.5)} ms, p90 ${quantile(flooded, 0.9)} ms`,
    );
    console.log(
      `neighbour page p99 ${result.neighbour_page_p99_ms} ms (idle ${result.neighbour_page_idle_p99_ms} ms); /-/healthy p99 ${result.healthy_p99_ms} ms; write ack p99 ${result.write_ack_p99_ms} ms; peak RSS ${Math.round(rssPeak / 2 ** 20)} MiB`,
    );
    console.log(`targets: ${JSON.stringify(targets)}`);
    console.log(JSON.stringify(result));
  } finally {
    svc.proc.stdin.end();
    await new Promise((r) => (svc.proc.exitCode === null ? svc.proc.once("exit", r) : r(null)));
  }
}

const role = process.env.ISOLATION_ROLE;
await (role === "service" ? serviceRole() : role === "flood" ? floodRole() : mainRole());
