/**
 * `npm run bench:compare`: the product side by side with Prometheus 2.42 and VictoriaMetrics 1.79
 * (Debian's `/usr/bin/prometheus` and `/usr/bin/victoria-metrics`, or PROMETHEUS= and
 * VICTORIA_METRICS= paths), each in its own process on loopback, fed the same remote-write bytes
 * and asked the same questions. docs/performance.md has the figures and what they are for.
 *
 * Fleets (bench/compare-fleet.ts; FLEETS=small,medium by default, FLEETS=tiny for the CI smoke):
 *   tiny   =   2 projects ×  2 models × 2 tiers × 49 series, 1 h at 15 s (94 k samples)
 *   small  =  10 projects ×  5 models × 2 tiers × 49 series, 24 h at 15 s (28 M samples)
 *   medium = 200 projects × 10 models × 2 tiers × 49 series, 2 h at 15 s (94 M samples)
 *
 * For each fleet and each engine, in a fresh data directory:
 *   ingest_samples_per_s   every request (SHARDS in flight, default 4, one per shard) / wall time
 *                          until the last acknowledgement
 *   rss_after_load_bytes   the engine process's VmRSS right after the last acknowledgement
 *   page_refresh_1h_ms,    the product page's requests for one project (label values, nine range
 *   page_refresh_24h_ms    queries, the output total) for its 1 h and 24 h views ending at the
 *                          data's end, all at once over at most 6 connections as a browser would:
 *                          p50 of REFRESHES (default 10) after 2 warm-ups. The product is asked
 *                          through the project's URL with a monitoring token, the engines the same
 *                          PromQL with the project's matcher enforced (as bench/remote.ts does).
 *                          On the medium fleet (2 h of data) the 24 h view is the page's 24 h view
 *                          all the same: 22 h of it are empty.
 *   seed_range_p50_ms      the page's five queries (the seed's: each panel's first), range over
 *                          the whole span at 60 s: the slowest query's p50 of RUNS (default 5)
 *                          after a warm-up
 *   increase_24h_ms        sum by (model_name) (increase(requests{project}[24h])), the same way
 *   fleet_ttft_p99_range_ms, fleet_top5_range_ms
 *                          fleet-wide p99 TTFT and top 5 projects by request rate, the same way,
 *                          through the operator's URL (admin key) for the product
 *   restart_kill9_s        kill -9 (at least 10 s after the last acknowledgement), start again on
 *                          the same directory: seconds from the start until the first correct
 *                          answer to count(requests) at the data's end
 *   disk_bytes_per_sample  after a clean stop (SIGTERM, exit): the data directory's allocated
 *                          size (st_blocks × 512 over all files, as du) / samples
 * VictoriaMetrics is asked with nocache=1 (and runs with -search.disableCache). The product runs as
 * `mim serve` in a child process with its default limits except the per-token and per-project
 * request rates and the remote-write budget (off, as for the engines) and without the built-in
 * recording rules (the engines evaluate none).
 *
 * equal_to_prometheus: the product's answers to the five seed range queries equal Prometheus's:
 * the same series, timestamps, and values within a relative 1e-9 (or both NaN).
 *
 * Progress goes to stderr; stdout gets a table per fleet and, last, one JSON line. A figure that
 * could not be measured is null with a `<figure>_reason`. Temp directories and child processes
 * are removed on exit, also on errors and signals.
 */
import { lstatSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { OPERATOR_PREFIX, TIMESERIES_PREFIX } from "../src/api/server.js";
import { enforceMatchers, enforceProject } from "../src/remote/enforce.js";
import { compareRows, type Row, rowsOf } from "../test/support/answers.js";
import {
  type EngineHandle,
  engineAvailable,
  freePort,
  startPrometheus,
  startVictoriaMetrics,
} from "../test/support/engines.js";
import { type MimProcess, spawnMimServe } from "../test/support/mim-process.js";
import { type Filters, PANELS, totalQuery } from "../web/src/queries.js";
import { relativeWindow } from "../web/src/step.js";
import { buildCompareFleet, type CompareFleet, FLEET_SPECS } from "./compare-fleet.js";
import { SERIES_PER_COMBINATION } from "./fleet.js";
import { closeSenders, SHARDS, send } from "./payloads.js";

export const ENGINES = ["prometheus", "victoriametrics", "product"] as const;
export type EngineName = (typeof ENGINES)[number];

export const FIGURES = [
  "ingest_samples_per_s",
  "disk_bytes_per_sample",
  "rss_after_load_bytes",
  "restart_kill9_s",
  "page_refresh_1h_ms",
  "page_refresh_24h_ms",
  "seed_range_p50_ms",
  "increase_24h_ms",
  "fleet_ttft_p99_range_ms",
  "fleet_top5_range_ms",
] as const;
export type Figure = (typeof FIGURES)[number];

/** Targets: the product ÷ VictoriaMetrics in the same run (restart: seconds on the medium fleet). */
export const TARGETS: Readonly<Record<Figure, { op: "≥" | "≤"; value: number; absolute?: boolean }>> = {
  ingest_samples_per_s: { op: "≥", value: 1 },
  disk_bytes_per_sample: { op: "≤", value: 1 },
  rss_after_load_bytes: { op: "≤", value: 1 },
  restart_kill9_s: { op: "≤", value: 1, absolute: true },
  page_refresh_1h_ms: { op: "≤", value: 0.5 },
  page_refresh_24h_ms: { op: "≤", value: 0.5 },
  seed_range_p50_ms: { op: "≤", value: 0.5 },
  increase_24h_ms: { op: "≤", value: 1 },
  fleet_ttft_p99_range_ms: { op: "≤", value: 1 },
  fleet_top5_range_ms: { op: "≤", value: 1 },
};

const RUNS = Number(process.env.RUNS ?? 5);
const REFRESHES = Number(process.env.REFRESHES ?? 10);
const PAGE_WARMUPS = 2;
const RANGE_WARMUPS = 1;
const STEP_S = 60;
const REL = 1e-9;
const ADMIN_KEY = "mim_adm_bench-compare-0123456789abcdef";
const FILTERS: Filters = { model: null, tier: null, splitTier: false };
const REQUESTS = "crusoe_inference_request_count";
const TTFT_BUCKET = "crusoe_inference_histogram_first_token_latency_bucket";
/** How long a start (log replay included) may take before the figure is given up. */
const START_TIMEOUT_MS = 10 * 60_000;
/** After a start, how long the data may take to be all there. */
const COMPLETE_TIMEOUT_MS = 60_000;
/**
 * The kill -9 comes at least this long after the last acknowledgement: VictoriaMetrics 1.79 loses
 * what it acknowledged in the last ~5 s before a crash (its in-memory parts), which is not what
 * restart_kill9_s measures. Prometheus's WAL and the product's commits survive a kill at once.
 */
const SETTLE_BEFORE_KILL_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Progress, cleanup.
// ---------------------------------------------------------------------------------------------

const began = performance.now();
function progress(msg: string): void {
  const s = ((performance.now() - began) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[${s} s] ${msg}\n`);
}

/** Temp directories not yet removed, and product processes not yet stopped. */
const dirs = new Set<string>();
const mims = new Set<MimProcess>();
function cleanupNow(): void {
  for (const m of mims) m.child.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Processes.
// ---------------------------------------------------------------------------------------------

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Bytes allocated to the files under `dir` (st_blocks × 512, as du counts). */
function duBytes(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.blocks * 512;
  let total = 0;
  for (const name of readdirSync(path)) total += duBytes(join(path, name));
  return total;
}

/** What a query is sent with: where, with which credentials and parameters, rewritten how. */
interface Api {
  base: string;
  headers: Record<string, string>;
  extra: Record<string, string>;
  /** The query as this engine is sent it. */
  scope(query: string): string;
  /** A match[] selector as this engine is sent it. */
  scopeMatch(selector: string): string;
}

/** One engine under test: started on a fresh directory, restartable on it. */
interface Target {
  name: EngineName;
  writeUrl: string;
  writeToken?: string;
  /** The data directory (what disk_bytes_per_sample measures). */
  dataDir: string;
  pid(): number;
  /** Makes what was acknowledged searchable (VictoriaMetrics's force_flush). */
  flush(): Promise<void>;
  project(project: string): Api;
  fleet(): Api;
  kill9(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

function engineApi(url: string, extra: Record<string, string>, project?: string): Api {
  return {
    base: url,
    headers: {},
    extra,
    scope: (q) => (project ? enforceProject(q, project) : q),
    scopeMatch: (m) => (project ? enforceMatchers([m], project)[0] : m),
  };
}

async function engineTarget(name: "prometheus" | "victoriametrics"): Promise<Target> {
  const opts = { readyTimeoutMs: START_TIMEOUT_MS, readyPollMs: 10 };
  const engine: EngineHandle =
    name === "prometheus" ? await startPrometheus(opts) : await startVictoriaMetrics(opts);
  dirs.add(engine.dir);
  const extra: Record<string, string> = name === "victoriametrics" ? { nocache: "1" } : {};
  return {
    name,
    writeUrl: engine.writeUrl,
    dataDir: join(engine.dir, "data"),
    pid() {
      const pid = engine.pid;
      if (pid === undefined) throw new Error(`${name} is not running`);
      return pid;
    },
    flush: () => engine.flush(),
    project: (p) => engineApi(engine.url, extra, p),
    fleet: () => engineApi(engine.url, extra),
    kill9: () => engine.kill("SIGKILL"),
    start: () => engine.start(),
    stop: () => engine.stop(),
    async close() {
      await engine.close();
      dirs.delete(engine.dir);
    },
  };
}

async function productTarget(project: string): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), "mim-bench-compare-"));
  dirs.add(dir);
  const dataDir = join(dir, "data");
  const port = await freePort();
  const args = [
    "--data-dir",
    dataDir,
    "--listen",
    `127.0.0.1:${port}`,
    "--no-cli-config",
    "--no-builtin-rules",
    "--remote-write-rate",
    "0",
    "--rate-limit",
    "0",
    "--project-rate-limit",
    "0",
    "--log-level",
    "warn",
  ];
  const env = { ...process.env, MIM_ADMIN_KEY: ADMIN_KEY };
  const url = `http://127.0.0.1:${port}`;
  let mim: MimProcess | null = null;
  const start = async () => {
    if (mim) return;
    mim = await spawnMimServe(args, env);
    mims.add(mim);
  };
  const halt = async (signal: NodeJS.Signals) => {
    if (!mim) return;
    const m = mim;
    mim = null;
    await m.stop(signal);
    mims.delete(m);
  };
  await start();
  const admin = async (path: string): Promise<string> => {
    const res = await fetch(url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "bench-compare" }),
    });
    const body = (await res.json()) as { token?: string };
    if (!body.token) throw new Error(`${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
    return body.token;
  };
  const writeToken = await admin("/v1alpha5/ingest-tokens");
  const monitoring = new Map([[project, await admin(`/v1alpha5/projects/${project}/monitoring/tokens`)]]);
  return {
    name: "product",
    writeUrl: `${url}/api/v1/write`,
    writeToken,
    dataDir,
    pid() {
      const pid = mim?.child.pid;
      if (pid === undefined) throw new Error("the product is not running");
      return pid;
    },
    flush: async () => {},
    project(p) {
      const token = monitoring.get(p);
      if (!token) throw new Error(`no monitoring token for ${p}`);
      return {
        base: url + TIMESERIES_PREFIX.replace(":projectId", p),
        headers: { authorization: `Bearer ${token}` },
        extra: {},
        scope: (q) => q,
        scopeMatch: (m) => m,
      };
    },
    fleet: () => ({
      base: url + OPERATOR_PREFIX,
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      extra: {},
      scope: (q) => q,
      scopeMatch: (m) => m,
    }),
    kill9: () => halt("SIGKILL"),
    start,
    stop: () => halt("SIGTERM"),
    async close() {
      await halt("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Queries.
// ---------------------------------------------------------------------------------------------

/** At most 6 connections, kept alive: a browser's HTTP/1.1 connections per host. */
const queryAgent = new http.Agent({ keepAlive: true, maxSockets: 6 });

interface ApiBody {
  status: string;
  data?: { resultType?: string; result?: unknown };
  error?: string;
}

/** GET base + path with the Api's parameters; the parsed body of a 200 success, or throws. */
function get(api: Api, path: string, params: Record<string, string>): Promise<ApiBody> {
  const qs = new URLSearchParams({ ...params, ...api.extra });
  const url = new URL(`${api.base}${path}?${qs}`);
  return new Promise((resolve, reject) => {
    const req = http.get(
      url,
      { agent: queryAgent, headers: { ...api.headers, "accept-encoding": "gzip" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          try {
            let raw = Buffer.concat(chunks);
            if (res.headers["content-encoding"] === "gzip") raw = gunzipSync(raw);
            const text = raw.toString("utf8");
            let body: ApiBody;
            try {
              body = JSON.parse(text);
            } catch {
              throw new Error(`HTTP ${res.statusCode}, not JSON: ${text.slice(0, 300)}`);
            }
            if (res.statusCode !== 200 || body.status !== "success") {
              throw new Error(`HTTP ${res.statusCode} ${text.slice(0, 300)}`);
            }
            resolve(body);
          } catch (e) {
            reject(new Error(`${path} ${params.query ?? params["match[]"] ?? ""}: ${(e as Error).message}`));
          }
        });
      },
    );
    req.on("error", reject);
  });
}

type Request = { path: string; params: Record<string, string> };

/** The page's requests for its `rangeSeconds` view of `project` at `nowSec` (web/src/metrics-view.ts). */
function pageRequests(api: Api, project: string, rangeSeconds: number, nowSec: number): Request[] {
  const w = relativeWindow(rangeSeconds, nowSec);
  const out: Request[] = [
    { path: "/api/v1/label/model_name/values", params: { "match[]": api.scopeMatch(REQUESTS) } },
  ];
  for (const panel of PANELS) {
    for (const q of panel.queries(project, FILTERS)) {
      out.push({
        path: "/api/v1/query_range",
        params: {
          query: api.scope(q.query),
          start: String(w.start),
          end: String(w.end),
          step: String(w.step),
        },
      });
    }
    if (panel.totalOf) {
      out.push({
        path: "/api/v1/query",
        params: {
          query: api.scope(totalQuery(panel.totalOf, project, FILTERS, rangeSeconds)),
          time: String(nowSec),
        },
      });
    }
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number, digits = 3) => {
  if (!Number.isFinite(x) || x === 0) return x;
  const scale = 10 ** Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(x))));
  return Math.round(x * scale) / scale;
};

/** p50 wall time (ms) of `runs` rounds of `requests` sent at once, after `warmups`. */
async function timeRounds(api: Api, requests: Request[], warmups: number, runs: number) {
  const ms: number[] = [];
  let last: ApiBody[] = [];
  for (let i = 0; i < warmups + runs; i++) {
    const t0 = performance.now();
    last = await Promise.all(requests.map((r) => get(api, r.path, r.params)));
    if (i >= warmups) ms.push(performance.now() - t0);
  }
  return { p50: median(ms), last };
}

/** A range query over the fleet's whole span at 60 s steps. */
function spanRange(fleet: CompareFleet, query: string): Request {
  return {
    path: "/api/v1/query_range",
    params: {
      query,
      start: String(Math.floor(fleet.firstMs / 1000 / STEP_S) * STEP_S),
      end: String(Math.ceil(fleet.lastMs / 1000 / STEP_S) * STEP_S),
      step: String(STEP_S),
    },
  };
}

/** The page's five queries of the seed: each panel's first (the quantile panels' p50). */
function seedQueries(project: string): Array<{ id: string; query: string }> {
  return PANELS.map((p) => ({ id: p.id, query: p.queries(project, FILTERS)[0].query }));
}

/** The time of the count query: the first whole second after the data's last sample. */
const countTime = (fleet: CompareFleet) => String(Math.ceil(fleet.lastMs / 1000));

/** count(requests) at the data's end: every target is there when it says fleet.targets. */
async function countTargets(t: Target, fleet: CompareFleet): Promise<string> {
  try {
    const body = await get(t.fleet(), "/api/v1/query", {
      query: `count(${REQUESTS})`,
      time: countTime(fleet),
    });
    const r = body.data?.result as Array<{ value: [number, string] }> | undefined;
    return r?.length === 1 ? r[0].value[1] : "no series";
  } catch (e) {
    return (e as Error).message.slice(0, 200);
  }
}

async function untilComplete(
  t: Target,
  fleet: CompareFleet,
  timeoutMs: number,
  pollMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const answer = await countTargets(t, fleet);
    if (answer === String(fleet.targets)) return;
    if (performance.now() > deadline) {
      throw new Error(
        `count(${REQUESTS}) was not ${fleet.targets} within ${timeoutMs / 1000} s; the last answer: ${answer}`,
      );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

// ---------------------------------------------------------------------------------------------
// One engine on one fleet.
// ---------------------------------------------------------------------------------------------

type Figures = Record<string, number | string | null>;

interface EngineRun {
  figures: Figures;
  /** p50 ms of each seed query. */
  seedP50: Record<string, number>;
  /** The seed queries' answers (last run), as rows. */
  seedRows: Record<string, Row[]> | null;
}

async function runEngine(name: EngineName, fleet: CompareFleet): Promise<EngineRun> {
  const figures: Figures = Object.fromEntries(FIGURES.map((f) => [f, null]));
  const seedP50: Record<string, number> = {};
  let seedRows: Record<string, Row[]> | null = null;
  const fail = (f: Figure, e: unknown) => {
    figures[f] = null;
    figures[`${f}_reason`] = (e as Error).message.slice(0, 500);
    progress(`  ${name}: ${f} not measured: ${(e as Error).message.slice(0, 300)}`);
  };
  const measure = async (f: Figure, fn: () => Promise<number>) => {
    try {
      figures[f] = round(await fn(), 4);
      progress(`  ${name}: ${f} = ${figures[f]}`);
    } catch (e) {
      fail(f, e);
    }
  };
  const label = `${fleet.spec.name}/${name}`;
  progress(`${label}: starting on a fresh directory`);
  const t = name === "product" ? await productTarget(fleet.project) : await engineTarget(name);
  try {
    progress(`${label}: sending ${fleet.samples} samples in ${fleet.requests} requests, ${SHARDS} at a time`);
    let loaded = false;
    let ackedAt = 0;
    await measure("ingest_samples_per_s", async () => {
      const seconds = await send(fleet.payloads, t.writeUrl, t.writeToken);
      ackedAt = performance.now();
      loaded = true;
      figures.ingest_s = round(seconds, 4);
      return fleet.samples / seconds;
    });
    if (!loaded) {
      for (const f of FIGURES)
        if (figures[f] === null && !figures[`${f}_reason`]) fail(f, new Error("ingest failed"));
      return { figures, seedP50, seedRows };
    }
    await measure("rss_after_load_bytes", async () => rssBytes(t.pid()));
    await t.flush();
    await untilComplete(t, fleet, COMPLETE_TIMEOUT_MS, 100);

    const project = fleet.project;
    const api = t.project(project);
    const nowSec = Math.ceil(fleet.lastMs / 1000);
    await measure("page_refresh_1h_ms", async () => {
      return (await timeRounds(api, pageRequests(api, project, 3600, nowSec), PAGE_WARMUPS, REFRESHES)).p50;
    });
    await measure("page_refresh_24h_ms", async () => {
      return (await timeRounds(api, pageRequests(api, project, 86_400, nowSec), PAGE_WARMUPS, REFRESHES)).p50;
    });
    await measure("seed_range_p50_ms", async () => {
      const rows: Record<string, Row[]> = {};
      for (const { id, query } of seedQueries(project)) {
        const r = await timeRounds(api, [spanRange(fleet, api.scope(query))], RANGE_WARMUPS, RUNS);
        seedP50[id] = round(r.p50, 4);
        rows[id] = rowsOf((r.last[0].data?.result ?? []) as Parameters<typeof rowsOf>[0]);
      }
      seedRows = rows;
      return Math.max(...Object.values(seedP50));
    });
    await measure("increase_24h_ms", async () => {
      const q = `sum by (model_name) (increase(${REQUESTS}{project_id="${project}"}[24h]))`;
      return (await timeRounds(api, [spanRange(fleet, api.scope(q))], RANGE_WARMUPS, RUNS)).p50;
    });
    const fleetApi = t.fleet();
    await measure("fleet_ttft_p99_range_ms", async () => {
      const q = `histogram_quantile(0.99, sum by (le) (rate(${TTFT_BUCKET}[5m])))`;
      return (await timeRounds(fleetApi, [spanRange(fleet, q)], RANGE_WARMUPS, RUNS)).p50;
    });
    await measure("fleet_top5_range_ms", async () => {
      const q = `topk(5, sum by (project_id) (rate(${REQUESTS}[5m])))`;
      return (await timeRounds(fleetApi, [spanRange(fleet, q)], RANGE_WARMUPS, RUNS)).p50;
    });

    progress(`${label}: kill -9, then a start on the same directory`);
    let restarted = false;
    await measure("restart_kill9_s", async () => {
      const settle = ackedAt + SETTLE_BEFORE_KILL_MS - performance.now();
      if (settle > 0) await new Promise((r) => setTimeout(r, settle));
      await t.kill9();
      const t0 = performance.now();
      await t.start();
      await untilComplete(t, fleet, COMPLETE_TIMEOUT_MS, 5);
      restarted = true;
      return (performance.now() - t0) / 1000;
    });

    progress(`${label}: clean stop`);
    await measure("disk_bytes_per_sample", async () => {
      if (!restarted) throw new Error("no clean stop to measure after: the restart failed");
      await t.stop();
      const bytes = duBytes(t.dataDir);
      figures.disk_bytes = bytes;
      const parts = readdirSync(t.dataDir)
        .map((n) => [n, duBytes(join(t.dataDir, n))] as const)
        .filter(([, b]) => b > 0)
        .sort((a, b) => b[1] - a[1])
        .map(([n, b]) => `${n} ${(b / 2 ** 20).toFixed(1)} MiB`);
      progress(`  ${name}: data directory: ${parts.join(", ")}`);
      return bytes / fleet.samples;
    });
  } finally {
    await t.close();
  }
  return { figures, seedP50, seedRows };
}

// ---------------------------------------------------------------------------------------------
// Output.
// ---------------------------------------------------------------------------------------------

const num = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

function ratios(product: Figures, engine: Figures): Record<Figure, number | null> {
  const out = {} as Record<Figure, number | null>;
  for (const f of FIGURES) {
    const a = num(product[f]);
    const b = num(engine[f]);
    out[f] = a !== null && b !== null && b > 0 ? round(a / b) : null;
  }
  return out;
}

function targetMet(f: Figure, product: Figures, ratioVm: Record<Figure, number | null>): boolean | null {
  const t = TARGETS[f];
  const x = t.absolute ? num(product[f]) : ratioVm[f];
  if (x === null) return null;
  return t.op === "≥" ? x >= t.value : x <= t.value;
}

function show(f: Figure, x: number | string | null | undefined): string {
  const v = num(x);
  if (v === null) return "n/a";
  if (f === "ingest_samples_per_s") return `${(v / 1e6).toFixed(3)} M/s`;
  if (f === "disk_bytes_per_sample") return `${v.toFixed(3)} B`;
  if (f === "rss_after_load_bytes") return `${(v / 2 ** 20).toFixed(0)} MiB`;
  if (f === "restart_kill9_s") return `${v.toFixed(2)} s`;
  return `${v < 100 ? v.toFixed(1) : v.toFixed(0)} ms`;
}

function table(name: string, fleet: CompareFleet, result: FleetResult): string {
  const lines = [
    `${name}: ${fleet.spec.projects} projects × ${fleet.spec.models} models × 2 tiers × ${SERIES_PER_COMBINATION} series = ${fleet.series} series, ${fleet.spec.hours} h at 15 s = ${fleet.samples} samples (${fleet.resets} target restarts)`,
    "",
    "| figure | Prometheus 2.42 | VictoriaMetrics 1.79 | product | product ÷ VM | product ÷ Prometheus | target | met |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const f of FIGURES) {
    const t = TARGETS[f];
    const met = result.targets[f];
    lines.push(
      `| ${f} | ${show(f, result.prometheus[f])} | ${show(f, result.victoriametrics[f])} | ${show(f, result.product[f])} | ${result.ratio_vm[f] ?? "n/a"} | ${result.ratio_prom[f] ?? "n/a"} | ${t.absolute ? `${t.op} ${t.value} s` : `÷ VM ${t.op} ${t.value}`} | ${met === null ? "n/a" : met ? "yes" : "no"} |`,
    );
  }
  for (const e of ENGINES) {
    for (const f of FIGURES) {
      const why = result[e][`${f}_reason`];
      if (why) lines.push(`- ${e} ${f}: not measured: ${why}`);
    }
  }
  return lines.join("\n");
}

interface FleetResult {
  fleet: Record<string, number | string>;
  prometheus: Figures;
  victoriametrics: Figures;
  product: Figures;
  ratio_vm: Record<Figure, number | null>;
  ratio_prom: Record<Figure, number | null>;
  targets: Record<Figure, boolean | null>;
  seed_range_p50_ms_by_query: Record<EngineName, Record<string, number>>;
  equal_to_prometheus: boolean;
}

async function runFleet(name: string): Promise<{ fleet: CompareFleet; result: FleetResult }> {
  const spec = FLEET_SPECS[name];
  if (!spec) throw new Error(`unknown fleet ${name} (FLEETS: ${Object.keys(FLEET_SPECS).join(", ")})`);
  const t0 = performance.now();
  const gridEndMs = Math.floor(Date.now() / 15_000) * 15_000 - 15_000;
  const fleet = buildCompareFleet(spec, gridEndMs);
  progress(
    `${name}: ${fleet.series} series × ${fleet.scrapes} scrapes = ${fleet.samples} samples, ${fleet.resets} restarts; ${fleet.requests} requests, ${(fleet.bytes / 2 ** 20).toFixed(0)} MiB (encoded in ${((performance.now() - t0) / 1000).toFixed(1)} s; this process: ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB)`,
  );
  const runs = {} as Record<EngineName, EngineRun>;
  for (const e of ENGINES) runs[e] = await runEngine(e, fleet);

  let equal = false;
  const want = runs.prometheus.seedRows;
  const got = runs.product.seedRows;
  if (want && got) {
    const diffs: string[] = [];
    let points = 0;
    for (const { id, query } of seedQueries(fleet.project)) {
      diffs.push(...compareRows(query, want[id], got[id], REL, { want: "Prometheus", got: "product" }));
      for (const r of want[id]) points += r.points.filter(([, v]) => !Number.isNaN(v)).length;
    }
    equal = diffs.length === 0 && points > 0;
    progress(
      `${name}: seed queries ${equal ? "equal" : "NOT equal"} to Prometheus's (${points} non-NaN points compared${diffs.length ? `, ${diffs.length} differences` : ""})`,
    );
    for (const d of diffs.slice(0, 10)) progress(`  ${d}`);
  } else {
    progress(`${name}: seed answers missing, equality not checked`);
  }
  const ratio_vm = ratios(runs.product.figures, runs.victoriametrics.figures);
  const targets = Object.fromEntries(
    FIGURES.map((f) => [f, targetMet(f, runs.product.figures, ratio_vm)]),
  ) as Record<Figure, boolean | null>;
  return {
    fleet,
    result: {
      fleet: {
        projects: spec.projects,
        models: spec.models,
        tiers: 2,
        hours: spec.hours,
        series: fleet.series,
        samples: fleet.samples,
        restarts: fleet.resets,
        requests: fleet.requests,
        payload_bytes: fleet.bytes,
      },
      prometheus: runs.prometheus.figures,
      victoriametrics: runs.victoriametrics.figures,
      product: runs.product.figures,
      ratio_vm,
      ratio_prom: ratios(runs.product.figures, runs.prometheus.figures),
      targets,
      seed_range_p50_ms_by_query: {
        prometheus: runs.prometheus.seedP50,
        victoriametrics: runs.victoriametrics.seedP50,
        product: runs.product.seedP50,
      },
      equal_to_prometheus: equal,
    },
  };
}

async function main(): Promise<void> {
  for (const kind of ["prometheus", "victoria-metrics"] as const) {
    if (!engineAvailable(kind))
      throw new Error(`bench:compare needs Debian's ${kind} (apt-get install ${kind})`);
  }
  const names = (process.env.FLEETS ?? "small,medium").split(",").map((s) => s.trim());
  const out: Record<string, unknown> = {};
  const tables: string[] = [];
  let equal = true;
  for (const name of names) {
    const { fleet, result } = await runFleet(name);
    out[name] = result;
    equal &&= result.equal_to_prometheus;
    tables.push(table(name, fleet, result));
    // The next fleet's payloads should not share the heap with this one's.
    fleet.payloads.shards.length = 0;
    (globalThis as { gc?: () => void }).gc?.();
  }
  out.equal_to_prometheus = equal;
  out.run = {
    date: new Date().toISOString(),
    seconds: Math.round((performance.now() - began) / 1000),
    shards: SHARDS,
    runs: RUNS,
    refreshes: REFRESHES,
  };
  console.log(tables.join("\n\n"));
  console.log(`\nequal to Prometheus on the seed queries: ${equal}`);
  console.log(JSON.stringify(out));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Engines' processes are SIGKILLed by test/support/engines.ts on exit; the rest goes here.
  process.on("exit", cleanupNow);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      progress(`${signal}: cleaning up`);
      process.exit(130);
    });
  }
  try {
    await main();
  } catch (e) {
    progress(`failed: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  } finally {
    closeSenders();
    queryAgent.destroy();
    cleanupNow();
  }
}
