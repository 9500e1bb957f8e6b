/**
 * The demo end to end in remote storage mode, as `mim serve` runs it (`startService` with
 * `remote`): the simulated fleet → the metering gateway → the remote-write queue → a real
 * Prometheus 2.42 / VictoriaMetrics 1.79 → the engine's Prometheus API behind our query API, with
 * the built-in recording rules evaluated on the engine. Through our API the page's five panels
 * (web/src/queries.ts) fill with sane values, the rules' output shows up, and the demo token sees
 * the demo project only, while the engine itself holds every project's data. Closing drains the
 * queue: the gateway's last flush reaches the engine.
 *
 * Then two replicas in remote mode on one PostgreSQL token store and one VictoriaMetrics: tokens
 * made or revoked on one act on the other at once, what one replica's /api/v1/write receives is
 * read through the other, and only one replica evaluates the rules (no duplicate samples in the
 * engine).
 *
 * Engines: skipped locally when a binary is missing, failing under CI=true (engineSkip); the
 * replicas also need PostgreSQL (postgresSkip). Every wait is a poll with a deadline.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { TIMESERIES_PREFIX } from "../../src/api/server.js";
import { type RunningService, type ServiceConfig, startService } from "../../src/cli/service.js";
import { DEMO_MODELS, DEMO_PROJECTS } from "../../src/sim/fleet.js";
import { type Filters, PANELS, totalQuery } from "../../web/src/queries.js";
import type { SampleSeries } from "../api/harness.js";
import { type PgServer, postgresSkip, startPostgres } from "../auth/pg-server.js";
import {
  type EngineHandle,
  type EngineKind,
  engineSkip,
  type InstantSample,
  instantQuery,
  remoteWrite,
  startEngineOfKind,
} from "../support/engines.js";
import { testServiceConfig } from "../support/service-config.js";

const ADMIN_KEY = "mim_adm_remote-demo-test-admin-key-0123456789";
const KINDS: readonly EngineKind[] = ["prometheus", "victoria-metrics"];
const ALL: Filters = { model: null, tier: null, splitTier: false };
/** Bound on every wait for data; the waits usually end within a few seconds. */
const DATA_DEADLINE_MS = 60_000;
const WEB_DIST = fileURLToPath(new URL("../../web/dist/index.html", import.meta.url));
const RULE_METRICS = ["crusoe_inference_first_token_latency", "crusoe_inference_output_token_latency"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function serviceConfig(dataDir: string, extra: Partial<ServiceConfig>): ServiceConfig {
  return testServiceConfig(dataDir, ADMIN_KEY, { builtinRules: true, ruleIntervalMs: 1_000, ...extra });
}

const base = (s: RunningService, project: string) =>
  s.url + TIMESERIES_PREFIX.replace(":projectId", encodeURIComponent(project));

async function admin(
  s: RunningService,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, string> }> {
  const res = await fetch(s.url + path, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_KEY}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? {} : JSON.parse(text) };
}

async function monitoringToken(s: RunningService, project: string): Promise<{ id: string; token: string }> {
  const r = await admin(s, "POST", `/v1alpha5/projects/${project}/monitoring/tokens`, {
    name: "remote-demo",
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  return { id: r.json.id, token: r.json.token };
}

/** GET on our API with a monitoring token: the status and the parsed body. */
async function api(
  s: RunningService,
  project: string,
  token: string,
  path: string,
): Promise<{ status: number; json: { status?: string; data?: unknown; error?: string } }> {
  const res = await fetch(base(s, project) + path, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  try {
    return { status: res.status, json: JSON.parse(text) };
  } catch {
    throw new Error(`${path}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
}

/** An instant query through our API at `timeMs` (default now); throws unless it answers a vector. */
async function ourQuery(
  s: RunningService,
  project: string,
  token: string,
  query: string,
  timeMs = Date.now(),
): Promise<InstantSample[]> {
  const params = new URLSearchParams({ query, time: (timeMs / 1000).toFixed(3) });
  const r = await api(s, project, token, `/api/v1/query?${params}`);
  const data = r.json.data as { resultType?: string; result?: InstantSample[] } | undefined;
  if (r.status !== 200 || r.json.status !== "success" || data?.resultType !== "vector") {
    throw new Error(`${query}: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 500)}`);
  }
  return data.result ?? [];
}

/**
 * What a panel query's answer says: "ok"; "wait" (no data yet, or values the start of the data
 * explains: NaN quantiles while no request fell between the last two flushes, a rate still 0);
 * or a problem no wait cures, which fails the test at once.
 */
type Verdict = { kind: "ok" } | { kind: "wait"; why: string } | { kind: "bad"; why: string };

function judgeRate(result: InstantSample[]): Verdict {
  if (result.length === 0) return { kind: "wait", why: "empty vector" };
  for (const r of result) {
    const v = Number(r.value[1]);
    if (!(r.metric.model_name ?? "")) return { kind: "bad", why: `no model_name: ${JSON.stringify(r)}` };
    if (v < 0 || v === Number.POSITIVE_INFINITY) return { kind: "bad", why: `rate ${r.value[1]}` };
    if (!(v > 0)) return { kind: "wait", why: `rate ${r.value[1]} for ${r.metric.model_name}` };
  }
  return { kind: "ok" };
}

function judgeQuantile(result: InstantSample[]): Verdict {
  if (result.length === 0) return { kind: "wait", why: "empty vector" };
  let finite = 0;
  for (const r of result) {
    const v = Number(r.value[1]);
    if (Number.isNaN(v)) continue;
    if (!(v > 0 && v < 10)) return { kind: "bad", why: `quantile ${r.value[1]} s: ${JSON.stringify(r)}` };
    finite++;
  }
  return finite > 0 ? { kind: "ok" } : { kind: "wait", why: "only NaN quantiles" };
}

/**
 * Polls `check` (after `engine.flush()`) until it returns null, failing with its last answer after
 * the deadline; `check` throws for what waiting cannot fix.
 */
async function pollUntil(
  what: string,
  flush: () => Promise<void>,
  check: () => Promise<string | null>,
  deadlineMs = DATA_DEADLINE_MS,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    await flush();
    const why = await check();
    if (why === null) return;
    assert.ok(Date.now() < deadline, `${what}: still ${why} after ${deadlineMs / 1000} s`);
    await sleep(500);
  }
}

for (const kind of KINDS) {
  describe(`the demo in remote mode on ${kind}`, { skip: engineSkip(kind) }, () => {
    let engine: EngineHandle | undefined;
    let service: RunningService | undefined;
    let closed = false;
    let dataDir: string | undefined;
    let token = "";

    before(async () => {
      engine = await startEngineOfKind(kind);
      dataDir = mkdtempSync(join(tmpdir(), `mim-remote-demo-${kind}-`));
      service = await startService(
        serviceConfig(dataDir, {
          gatewayListen: "127.0.0.1:0",
          // 1 s, not the production 15 s: two flushes (what rate() and irate() need) within seconds.
          gatewayFlushMs: 1_000,
          simFleet: true,
          remote: { writeUrl: engine.writeUrl, queryUrl: engine.url },
        }),
      );
      assert.ok(service.remote, "remote mode has a remote-write queue");
      assert.equal(service.db, undefined, "and no embedded store");
      token = (await monitoringToken(service, "demo")).token;
    });

    after(async () => {
      if (!closed) await service?.close();
      await engine?.close();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it("fills the page's five panels through our API with sane values", async () => {
      const s = service as RunningService;
      const e = engine as EngineHandle;
      assert.deepEqual(
        PANELS.map((p) => p.id),
        ["requests", "input", "output", "ttft", "tpot"],
      );
      const queries = PANELS.flatMap((p) => {
        const judge = p.id === "ttft" || p.id === "tpot" ? judgeQuantile : judgeRate;
        const qs = p.queries("demo", ALL).map((q) => ({ id: `${p.id}${q.suffix}`, query: q.query, judge }));
        // The total beside the output rate: increase() over the page's default hour.
        if (p.totalOf) {
          qs.push({ id: `${p.id} total`, query: totalQuery(p.totalOf, "demo", ALL, 3600), judge: judgeRate });
        }
        return qs;
      });
      const pending = new Map(queries.map((q) => [q.id, "not asked yet"]));
      // Once a query has answered well it stays answered: NaN quantiles come and go with the load.
      await pollUntil(
        "panel queries",
        () => e.flush(),
        async () => {
          const now = Date.now();
          for (const q of queries) {
            if (!pending.has(q.id)) continue;
            const result = await ourQuery(s, "demo", token, q.query, now);
            const verdict = q.judge(result);
            if (verdict.kind === "bad") assert.fail(`${q.id}: ${q.query}: ${verdict.why}`);
            for (const r of result) assert.deepEqual(Object.keys(r.metric), ["model_name"], q.query);
            if (verdict.kind === "ok") pending.delete(q.id);
            else pending.set(q.id, verdict.why);
          }
          return pending.size === 0 ? null : JSON.stringify(Object.fromEntries(pending));
        },
      );
    });

    it("shows the recording rules' output, evaluated on the engine, through our API", async () => {
      const s = service as RunningService;
      const e = engine as EngineHandle;
      const query = 'crusoe_inference_first_token_latency{quantile="0.5"}';
      let last: InstantSample[] = [];
      await pollUntil(
        query,
        () => e.flush(),
        async () => {
          last = await ourQuery(s, "demo", token, query);
          const verdict = judgeQuantile(last);
          if (verdict.kind === "bad") assert.fail(`${query}: ${verdict.why}`);
          return verdict.kind === "ok" ? null : verdict.why;
        },
      );
      for (const r of last) {
        assert.equal(r.metric.__name__, "crusoe_inference_first_token_latency");
        assert.equal(r.metric.project_id, "demo");
        assert.equal(r.metric.quantile, "0.5");
        assert.ok(r.metric.model_name && r.metric.service_tier, JSON.stringify(r.metric));
      }
      // The rules API says they ran here (this node leads: no PostgreSQL).
      const rules = await api(s, "demo", token, "/api/v1/rules");
      assert.equal(rules.status, 200);
      const groups = (
        rules.json.data as { groups: Array<{ rules: Array<{ name: string; health: string }> }> }
      ).groups;
      assert.equal(groups.length, 1);
      assert.deepEqual([...new Set(groups[0].rules.map((r) => r.name))].sort(), RULE_METRICS);
      assert.ok(
        groups[0].rules.every((r) => r.health === "ok"),
        JSON.stringify(groups[0].rules),
      );
    });

    it("shows the demo token the demo project only, while the engine holds every project", async () => {
      const s = service as RunningService;
      const e = engine as EngineHandle;
      const byProject = 'count by (project_id) ({__name__=~".+"})';
      const others = DEMO_PROJECTS.map((p) => p.projectId).filter((p) => p !== "demo");
      assert.ok(others.length >= 2);
      // The engine itself: every project of the fleet (their loads run alongside the demo's).
      await pollUntil(
        "every project in the engine",
        () => e.flush(),
        async () => {
          const held = new Set(
            (await instantQuery(e.url, byProject, Date.now())).map((r) => r.metric.project_id),
          );
          const missing = DEMO_PROJECTS.map((p) => p.projectId).filter((p) => !held.has(p));
          return missing.length === 0 ? null : `missing ${missing.join(", ")}`;
        },
      );
      const seen = await ourQuery(s, "demo", token, byProject);
      assert.deepEqual(
        seen.map((r) => r.metric),
        [{ project_id: "demo" }],
      );
      assert.ok(Number(seen[0].value[1]) > 0);
      for (const other of others) {
        const asked = `count({__name__=~".+", project_id="${other}"})`;
        assert.deepEqual(await ourQuery(s, "demo", token, asked), [], asked);
        assert.ok((await instantQuery(e.url, asked, Date.now())).length > 0, `the engine holds ${other}`);
      }
      const values = await api(s, "demo", token, "/api/v1/label/project_id/values");
      assert.equal(values.status, 200);
      assert.deepEqual(values.json.data, ["demo"]);
      const series = await api(
        s,
        "demo",
        token,
        `/api/v1/series?${new URLSearchParams({ "match[]": "crusoe_inference_request_count" })}`,
      );
      assert.equal(series.status, 200);
      const listed = series.json.data as Array<Record<string, string>>;
      assert.ok(listed.length > 0);
      assert.ok(
        listed.every((l) => l.project_id === "demo"),
        JSON.stringify(listed),
      );
      // The demo token is for the demo project: another project's path refuses it.
      assert.equal((await api(s, others[0], token, "/api/v1/query?query=1")).status, 403);
    });

    // `npm test` builds web/dist before the unit tests; a bare `npx tsx --test` may run without it.
    it("serves the metrics page", {
      skip: existsSync(WEB_DIST) ? false : "web/dist is not built (npm run build:web)",
    }, async () => {
      const res = await fetch(`${(service as RunningService).url}/projects/demo/metrics`);
      const text = await res.text();
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(text, /<div id="app">/);
      assert.match(text, /<script type="module"[^>]* src="\/assets\/[^"]+\.js"/);
    });

    it("drains the queue on close: the gateway's last flush reaches the engine", async () => {
      const s = service as RunningService;
      const e = engine as EngineHandle;
      const remote = s.remote;
      assert.ok(remote);
      assert.ok(await remote.drain(15_000), `queue not drained: ${JSON.stringify(remote.status())}`);
      const drained = remote.status();
      assert.ok(drained.sentSamples > 0);
      assert.equal(drained.failedSamples, 0, JSON.stringify(drained));
      closed = true;
      await s.close();
      const status = remote.status();
      assert.equal(status.closed, true);
      assert.equal(status.queuedSamples, 0, JSON.stringify(status));
      assert.equal(status.failedSamples, 0, JSON.stringify(status));
      assert.ok(status.sentSamples >= drained.sentSamples);
      // The gateway's meter holds its final counters (it waited for the requests in flight before
      // its last flush); the engine must come to hold exactly those. max_over_time: the gateway
      // marks its series stale on close. A poll: VictoriaMetrics 1.79 leaves samples stamped within
      // the current second out of query results for up to a second, force_flush or not.
      const meter = s.gateway?.meter;
      assert.ok(meter);
      const want: Record<string, [number, number]> = {};
      for (const m of DEMO_MODELS) {
        const slot = meter.read("demo", m.name, m.serviceTier);
        if (slot) want[m.name] = [slot.requests, slot.outputTokens];
      }
      assert.ok(Object.keys(want).length > 0);
      let got: Record<string, [number, number]> = {};
      await pollUntil(
        "the gateway's final counters in the engine",
        () => e.flush(),
        async () => {
          got = {};
          for (const [i, metric] of [
            "crusoe_inference_request_count",
            "crusoe_inference_output_token_count",
          ].entries()) {
            const r = await instantQuery(
              e.url,
              `max_over_time(${metric}{project_id="demo"}[10m])`,
              Date.now(),
            );
            for (const x of r) {
              got[x.metric.model_name] ??= [Number.NaN, Number.NaN];
              got[x.metric.model_name][i] = Number(x.value[1]);
            }
          }
          return isDeepStrictEqual(got, want)
            ? null
            : `${JSON.stringify(got)}, the meter ${JSON.stringify(want)}`;
        },
        15_000,
      );
      // And the meter agrees with the load: between the requests answered and those sent (one
      // cut while connecting may never have reached the gateway).
      const demoKey = DEMO_PROJECTS.find((p) => p.projectId === "demo")?.apiKey;
      const entries = (s.load?.stats().entries ?? []).filter((x) => x.apiKey === demoKey);
      const sent = entries.reduce((n, x) => n + x.sent, 0);
      const ok = entries.reduce((n, x) => n + x.ok, 0);
      const metered = Object.values(want).reduce((n, [requests]) => n + requests, 0);
      assert.ok(
        ok > 0 && ok <= metered && metered <= sent,
        `metered ${metered}, load ok ${ok}, sent ${sent}`,
      );
    });
  });
}

const replicaSkip = postgresSkip() || engineSkip("victoria-metrics");

describe("two replicas in remote mode on one PostgreSQL and one VictoriaMetrics", {
  skip: replicaSkip,
}, () => {
  const PROJECT = "rp1";
  const OTHER = "rp2";
  let pg: PgServer | undefined;
  let vm: EngineHandle | undefined;
  const replicas: RunningService[] = [];
  const dirs: string[] = [];
  let monitoring = { id: "", token: "" };
  let ingest = { id: "", token: "" };
  /** The last sample time of the series written through A. */
  let lastT = 0;

  before(async () => {
    const [server, engine] = await Promise.all([startPostgres(), startEngineOfKind("victoria-metrics")]);
    pg = server;
    vm = engine;
    const url = await server.schemaUrl("remote_replicas");
    for (let i = 0; i < 2; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), "mim-remote-replica-"));
      dirs.push(dataDir);
      replicas.push(
        await startService(
          serviceConfig(dataDir, {
            postgresUrl: url,
            remote: { writeUrl: engine.writeUrl, queryUrl: engine.url },
          }),
        ),
      );
    }
  });

  after(async () => {
    for (const s of replicas) await s.close();
    await vm?.close();
    await pg?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("answers on B with a monitoring token created on A, at once", async () => {
    const [a, b] = replicas;
    monitoring = await monitoringToken(a, PROJECT);
    const r = await ourQuery(b, PROJECT, monitoring.token, "vector(1)");
    assert.deepEqual(
      r.map((x) => x.value[1]),
      ["1"],
    );
    assert.equal((await api(a, PROJECT, monitoring.token, "/api/v1/query?query=1")).status, 200);
  });

  it("reads through B what A's /api/v1/write received, once A's queue drained", async () => {
    const [a, b] = replicas;
    const e = vm as EngineHandle;
    const created = await admin(a, "POST", "/v1alpha5/ingest-tokens", { name: "w" });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(created.json.project_id, "*", "without project_id the token writes every project");
    ingest = { id: created.json.id, token: created.json.token };
    // Three samples 20 s apart ending a second ago: a counter, and a TTFT histogram whose 10
    // observations all fall in (0.1, 0.5], so its median is 0.3 s by linear interpolation.
    lastT = Math.floor(Date.now() / 1000) * 1000 - 1_000;
    const times = [lastT - 40_000, lastT - 20_000, lastT];
    const product = (project: string, name: string, extra: Record<string, string> = {}) => ({
      __name__: name,
      project_id: project,
      model_name: "m",
      service_tier: "pt",
      ...extra,
    });
    const at = (values: number[]) => times.map((t, i) => [t, values[i]] as const);
    const h = "crusoe_inference_histogram_first_token_latency";
    const series: SampleSeries[] = [
      { labels: product(PROJECT, "crusoe_inference_request_count"), samples: at([3, 7, 12]) },
      { labels: product(OTHER, "crusoe_inference_request_count"), samples: at([1, 2, 3]) },
      { labels: product(PROJECT, `${h}_bucket`, { le: "0.1" }), samples: at([0, 0, 0]) },
      { labels: product(PROJECT, `${h}_bucket`, { le: "0.5" }), samples: at([0, 5, 10]) },
      { labels: product(PROJECT, `${h}_bucket`, { le: "+Inf" }), samples: at([0, 5, 10]) },
      { labels: product(PROJECT, `${h}_count`), samples: at([0, 5, 10]) },
      { labels: product(PROJECT, `${h}_sum`), samples: at([0, 1.5, 3]) },
    ];
    await remoteWrite(`${a.url}/api/v1/write`, series, {
      headers: { authorization: `Bearer ${ingest.token}` },
    });
    const remote = a.remote as NonNullable<RunningService["remote"]>;
    assert.ok(await remote.drain(10_000), `A's queue not drained: ${JSON.stringify(remote.status())}`);
    // Acknowledged by VictoriaMetrics; after force_flush searchable at once (a poll all the same).
    let seen: InstantSample[] = [];
    await pollUntil(
      "A's write through B",
      () => e.flush(),
      async () => {
        seen = await ourQuery(b, PROJECT, monitoring.token, "crusoe_inference_request_count", lastT + 1_000);
        return seen.length > 0 && seen[0].value[1] === "12" ? null : JSON.stringify(seen);
      },
      10_000,
    );
    assert.deepEqual(
      seen.map((r) => [r.metric, r.value[1]]),
      [[product(PROJECT, "crusoe_inference_request_count"), "12"]],
    );
    const byProject = await ourQuery(
      b,
      PROJECT,
      monitoring.token,
      'count by (project_id) ({__name__=~".+"})',
    );
    assert.deepEqual(
      byProject.map((r) => r.metric),
      [{ project_id: PROJECT }],
    );
    const inEngine = await instantQuery(
      e.url,
      `crusoe_inference_request_count{project_id="${OTHER}"}`,
      lastT,
    );
    assert.deepEqual(
      inEngine.map((r) => r.value[1]),
      ["3"],
      "the engine holds the other project's series",
    );
  });

  it("lists the rules on both replicas and evaluates them on one only", async () => {
    const e = vm as EngineHandle;
    const query = 'crusoe_inference_first_token_latency{quantile="0.5"}';
    // The leader's output, read through each replica: the written histogram's median.
    for (const s of replicas) {
      await pollUntil(
        `${query} through ${s.url}`,
        () => e.flush(),
        async () => {
          const r = await ourQuery(s, PROJECT, monitoring.token, query);
          if (r.length === 0) return "empty vector";
          assert.equal(r.length, 1, JSON.stringify(r));
          assert.ok(Math.abs(Number(r[0].value[1]) - 0.3) < 1e-9, JSON.stringify(r));
          return null;
        },
        30_000,
      );
    }
    // A few more evaluation intervals (1 s) pass: two evaluators would have written by then.
    const t0 = Date.now();
    await pollUntil(
      "three more evaluations",
      () => e.flush(),
      async () => {
        const evaluated = replicas.flatMap((s) => s.rules.health()).map((h) => h.lastEvaluation ?? 0);
        return Math.max(...evaluated) >= t0 + 3_000 ? null : `last evaluation ${Math.max(...evaluated)}`;
      },
      30_000,
    );
    const evaluated: boolean[] = [];
    for (const s of replicas) {
      const res = await api(s, PROJECT, monitoring.token, "/api/v1/rules");
      assert.equal(res.status, 200);
      const groups = (
        res.json.data as { groups: Array<{ lastEvaluation: string; rules: Array<{ name: string }> }> }
      ).groups;
      assert.equal(groups.length, 1);
      assert.equal(groups[0].rules.length, 6);
      assert.deepEqual([...new Set(groups[0].rules.map((r) => r.name))].sort(), RULE_METRICS);
      const any = Date.parse(groups[0].lastEvaluation) > 0;
      assert.equal(
        any,
        s.rules.health().some((h) => h.lastEvaluation !== undefined),
      );
      evaluated.push(any);
    }
    assert.deepEqual(
      evaluated.filter((x) => x),
      [true],
      `exactly one replica evaluates the rules: ${JSON.stringify(evaluated)}`,
    );
    // In the engine: one series per label set, and no timestamp twice in a series (VictoriaMetrics
    // keeps both copies of a sample two evaluators would write at the same aligned time).
    await e.flush();
    const params = new URLSearchParams({
      "match[]": `{__name__=~"${RULE_METRICS.join("|")}"}`,
      start: String(Math.floor(t0 / 1000) - 600),
    });
    const res = await fetch(`${e.url}/api/v1/export?${params}`);
    assert.equal(res.status, 200);
    const lines = (await res.text()).split("\n").filter((l) => l !== "");
    const exported = lines.map(
      (l) => JSON.parse(l) as { metric: Record<string, string>; timestamps: number[] },
    );
    assert.ok(exported.length > 0);
    const keys = exported.map((x) => JSON.stringify(Object.entries(x.metric).sort()));
    assert.equal(new Set(keys).size, keys.length, "one series per label set");
    for (const x of exported) {
      assert.ok(x.timestamps.length >= 3, JSON.stringify(x));
      const sorted = [...x.timestamps].sort((p, q) => p - q);
      for (let i = 1; i < sorted.length; i++) {
        assert.ok(sorted[i] > sorted[i - 1], `${JSON.stringify(x.metric)} has ${sorted[i]} twice`);
      }
    }
  });

  it("refuses on A, on the very next request, the tokens revoked on B", async () => {
    const [a, b] = replicas;
    const revoked = await admin(
      b,
      "DELETE",
      `/v1alpha5/projects/${PROJECT}/monitoring/tokens/${monitoring.id}`,
    );
    assert.equal(revoked.status, 204);
    assert.equal((await api(a, PROJECT, monitoring.token, "/api/v1/query?query=1")).status, 401);
    assert.equal((await api(b, PROJECT, monitoring.token, "/api/v1/query?query=1")).status, 401);
    assert.equal((await admin(b, "DELETE", `/v1alpha5/ingest-tokens/${ingest.id}`)).status, 204);
    const series: SampleSeries[] = [
      {
        labels: {
          __name__: "crusoe_inference_request_count",
          project_id: PROJECT,
          model_name: "m",
          service_tier: "pt",
        },
        samples: [[lastT + 1_000, 13]],
      },
    ];
    await assert.rejects(
      remoteWrite(`${a.url}/api/v1/write`, series, { headers: { authorization: `Bearer ${ingest.token}` } }),
      /HTTP 401/,
    );
  });
});
