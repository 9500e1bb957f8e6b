/**
 * Tenant isolation under a hostile flood (`npm run bench:isolation`).
 *
 * One embedded service with the production limits (rate limits, admission, query workers) holds an
 * hour of a synthetic fleet (bench/fleet.ts). Then:
 *
 *  1. idle: a neighbour project refreshes the metrics page (the 1 h range's nine range queries and
 *     the output total, sent at once as the page does) REFRESHES times, one every 500 ms: its idle
 *     p99;
 *  2. flood: for FLOOD_SECONDS, CLIENTS clients of one hostile project loop over expensive and
 *     pathological queries (backtracking regexes, 10,000-operator chains, wide ranges, nested
 *     subqueries), each with `timeout=3s`, while the neighbour keeps refreshing its page, a probe
 *     polls /-/healthy every 50 ms and a sender remote-writes a small batch every 100 ms.
 *
 * Reports the neighbour's page p99 idle and under the flood, /-/healthy and write acknowledgement
 * p99, how many flood answers came later than their timeout + 1 s, the flood's answers by status,
 * and the process's peak RSS (query workers included). Targets: neighbour p99 ≤ 2× idle, health
 * and acks p99 < 100 ms, no flood answer past timeout + 1 s. The last line is JSON.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_LIMITS } from "../src/api/context.js";
import { TIMESERIES_PREFIX } from "../src/api/server.js";
import { type RunningService, startService } from "../src/cli/service.js";
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

const round1 = (x: number) => Math.round(x * 10) / 10;
function quantile(ms: number[], q: number): number {
  if (ms.length === 0) return Number.NaN;
  const sorted = [...ms].sort((a, b) => a - b);
  return round1(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
}
const p99 = (ms: number[]) => quantile(ms, 0.99);

async function created(s: RunningService, path: string, body: unknown): Promise<string> {
  const res = await fetch(s.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { token?: string };
  if (!json.token) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(json)}`);
  return json.token;
}

const dir = mkdtempSync(join(tmpdir(), "bench-isolation-"));
const service = await startService(
  testServiceConfig(dir, ADMIN_KEY, { builtinRules: false, limits: { ...DEFAULT_LIMITS } }),
);
let rssPeak = process.memoryUsage.rss();
const rssTimer = setInterval(() => {
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
}, 100);
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
  console.log(
    `fleet: ${fleet.seriesCount} series × ${SCRAPES} scrapes; ${CLIENTS} flood clients, ${FLOOD_SECONDS} s`,
  );

  const hostileToken = await created(service, `/v1alpha5/projects/${HOSTILE}/monitoring/tokens`, {
    name: "flood",
  });
  const neighbourToken = await created(service, `/v1alpha5/projects/${NEIGHBOUR}/monitoring/tokens`, {
    name: "page",
  });
  const ingestToken = await created(service, "/v1alpha5/ingest-tokens", { name: "sender" });
  const base = (project: string) => service.url + TIMESERIES_PREFIX.replace(":projectId", project);

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
        urls.push(`${base(NEIGHBOUR)}/api/v1/query_range?${qs}`);
      }
      if (panel.totalOf) {
        const qs = new URLSearchParams({
          query: totalQuery(panel.totalOf, NEIGHBOUR, filters, 3600),
          time: String(to),
        });
        urls.push(`${base(NEIGHBOUR)}/api/v1/query?${qs}`);
      }
    }
    const t0 = performance.now();
    await Promise.all(
      urls.map(async (url) => {
        const res = await fetch(url, { headers: { authorization: `Bearer ${neighbourToken}` } });
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
    await new Promise((r) => setTimeout(r, Math.max(0, REFRESH_EVERY_MS - (performance.now() - t0))));
  };
  for (let i = 0; i < 3; i++) await paced([]); // warm the workers and connections
  const idle: number[] = [];
  for (let i = 0; i < REFRESHES; i++) await paced(idle);
  console.log(
    `neighbour page idle: p50 ${quantile(idle, 0.5)} ms, p99 ${p99(idle)} ms over ${idle.length} refreshes`,
  );

  const stopAt = performance.now() + FLOOD_SECONDS * 1000;
  const running = () => performance.now() < stopAt;
  const statuses: Record<string, number> = {};
  const perQuery: Record<string, { answers: number; maxMs: number }> = {};
  let pastTimeout = 0;
  let floodAnswers = 0;

  async function floodClient(c: number): Promise<void> {
    for (let i = c; running(); i++) {
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
      const res = await fetch(base(HOSTILE) + path, {
        method: "POST",
        headers: {
          authorization: `Bearer ${hostileToken}`,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams(params).toString(),
      });
      await res.arrayBuffer();
      const ms = performance.now() - t0;
      floodAnswers++;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      const s = perQuery[q.name] ?? { answers: 0, maxMs: 0 };
      perQuery[q.name] = s;
      s.answers++;
      s.maxMs = Math.max(s.maxMs, round1(ms));
      if (ms > (TIMEOUT_S + 1) * 1000) pastTimeout++;
      // A refused client backs off a little, as a real one would after 429.
      if (res.status === 429) await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function probeHealth(out: number[]): Promise<void> {
    while (running()) {
      const t0 = performance.now();
      const res = await fetch(`${service.url}/-/healthy`);
      await res.text();
      out.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
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
      const res = await fetch(`${service.url}/api/v1/write`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${ingestToken}`,
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
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function neighbour(out: number[]): Promise<void> {
    while (running()) await paced(out);
  }

  const health: number[] = [];
  const acks: number[] = [];
  const flooded: number[] = [];
  await Promise.all([
    ...Array.from({ length: CLIENTS }, (_, c) => floodClient(c)),
    probeHealth(health),
    sender(acks),
    neighbour(flooded),
  ]);

  for (const [name, s] of Object.entries(perQuery))
    console.log(`flood ${name.padEnd(20)} ${s.answers} answers, slowest ${s.maxMs} ms`);
  console.log(`flood answers by status: ${JSON.stringify(statuses)}; past timeout + 1 s: ${pastTimeout}`);
  if (service.queryPool) console.log(`query workers: ${JSON.stringify(service.queryPool.stats)}`);
  const result = {
    neighbour_page_p99_ms: p99(flooded),
    neighbour_page_idle_p99_ms: p99(idle),
    neighbour_page_refreshes: flooded.length,
    healthy_p99_ms: p99(health),
    write_ack_p99_ms: p99(acks),
    samples_written: written,
    flood_answers: floodAnswers,
    flood_statuses: statuses,
    flood_answers_past_timeout: pastTimeout,
    rss_peak_bytes: rssPeak,
  };
  const targets = {
    neighbour_within_2x_idle: result.neighbour_page_p99_ms <= 2 * result.neighbour_page_idle_p99_ms,
    healthy_under_100ms: result.healthy_p99_ms < 100,
    write_ack_under_100ms: result.write_ack_p99_ms < 100,
    none_past_timeout: pastTimeout === 0,
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
  clearInterval(rssTimer);
  await service.close();
  rmSync(dir, { recursive: true, force: true });
}
