/**
 * `mim serve` in remote storage mode against real engines started on loopback (Prometheus 2.42
 * with its remote-write receiver, VictoriaMetrics 1.79), next to an embedded `mim serve` fed the
 * same samples through the same remote-write endpoint:
 *
 *  - the page's five panels (each as the page sends it: per model and per model × tier, instant at
 *    several times and as a range) answer the same through our API in both modes;
 *  - series, label names and label values answer the same;
 *  - stopping the engine while samples keep arriving, then starting it again, loses none: the
 *    queue holds them, our API says 503 with Retry-After meanwhile, and afterwards every sample
 *    is counted through our API.
 *
 * Traffic: on Prometheus, the realistic fleet of test/api/fleet-samples.ts (jitter, a crash with
 * counter resets, a scrape outage, a late deployment, an idle target), whose answers Prometheus and
 * our engine compute alike. On VictoriaMetrics, the steady fleet of test/support/steady-fleet.ts:
 * MetricsQL's rate() neither extrapolates nor ignores the sample before the window, so it agrees
 * with Prometheus's rate() (which our engine follows) only on linear counters, at the times
 * `exactRateRange` gives. Values are compared with a relative tolerance (1e-12 on Prometheus: sum
 * order; 1e-9 on VictoriaMetrics: it stores values as decimals).
 *
 * Fails in CI when an engine is missing; skipped elsewhere.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TIMESERIES_PREFIX } from "../../src/api/server.js";
import { type RunningService, startService } from "../../src/cli/service.js";
import { PANELS } from "../../web/src/queries.js";
import { generateFleet } from "../api/fleet-samples.js";
import type { SampleSeries } from "../api/harness.js";
import { compareRows, type Row, rowsOf } from "../support/answers.js";
import {
  type EngineHandle,
  type EngineKind,
  engineSkip,
  remoteWrite,
  startEngineOfKind,
  timeSpan,
} from "../support/engines.js";
import { testServiceConfig } from "../support/service-config.js";
import { exactRateRange, generateSteadyFleet } from "../support/steady-fleet.js";
import { until } from "../support/until.js";

const ADMIN_KEY = "mim_adm_remote-mode-test-key-0123456789";
const MIN = 60_000;

interface Answer {
  status: number;
  body: {
    status: string;
    data?: {
      resultType?: string;
      result?: Array<{
        metric: Record<string, string>;
        value?: [number, string];
        values?: [number, string][];
      }>;
    } & unknown;
    errorType?: string;
    error?: string;
  };
  headers: Headers;
}

class Mim {
  private readonly monitoring = new Map<string, string>();
  ingest = "";
  constructor(
    readonly service: RunningService,
    readonly dir: string,
  ) {}

  static async start(remote: EngineHandle | null): Promise<Mim> {
    const dir = mkdtempSync(join(tmpdir(), `mim-${remote ? "remote" : "embedded"}-`));
    const cfg = testServiceConfig(dir, ADMIN_KEY, {
      retentionMs: 3650 * 86_400_000,
      builtinRules: false,
      ...(remote ? { remote: { writeUrl: remote.writeUrl, queryUrl: remote.url, shards: 2 } } : {}),
    });
    const mim = new Mim(await startService(cfg), dir);
    mim.ingest = (await mim.admin("POST", "/v1alpha5/ingest-tokens", { name: "test" })).token;
    return mim;
  }

  async admin(method: string, path: string, body?: unknown): Promise<{ token: string }> {
    const res = await fetch(this.service.url + path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body ?? {}),
    });
    assert.equal(res.status, 201, await res.clone().text());
    return (await res.json()) as { token: string };
  }

  async token(project: string): Promise<string> {
    let t = this.monitoring.get(project);
    if (!t) {
      t = (await this.admin("POST", `/v1alpha5/projects/${project}/monitoring/tokens`, { name: "t" })).token;
      this.monitoring.set(project, t);
    }
    return t;
  }

  write(series: readonly SampleSeries[]): Promise<void> {
    return remoteWrite(`${this.service.url}/api/v1/write`, series, {
      headers: { authorization: `Bearer ${this.ingest}` },
    });
  }

  async get(
    project: string,
    path: string,
    params: Readonly<Record<string, string | readonly string[]>>,
  ): Promise<Answer> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const x of [v].flat()) qs.append(k, x);
    const url = `${this.service.url}${TIMESERIES_PREFIX.replace(":projectId", project)}${path}?${qs}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${await this.token(project)}` } });
    return { status: res.status, body: (await res.json()) as Answer["body"], headers: res.headers };
  }

  async close(): Promise<void> {
    await this.service.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Everything the remote mim queued is in the engine and searchable. */
async function settle(remote: Mim, engine: EngineHandle): Promise<void> {
  assert.ok(await remote.service.remote?.drain(120_000), "the remote-write queue did not drain");
  await engine.flush();
}

/** Feeds both services in 10-minute slices, draining the queue between them (see remoteWrite). */
async function feedBoth(series: readonly SampleSeries[], embedded: Mim, remote: Mim, engine: EngineHandle) {
  const { min, max } = timeSpan(series);
  for (let from = min; from <= max; from += 10 * MIN) {
    const slice = series.map((s) => ({
      labels: s.labels,
      samples: s.samples.filter(([t]) => t >= from && t < from + 10 * MIN),
    }));
    await embedded.write(slice);
    await remote.write(slice);
    await settle(remote, engine);
  }
}

function rows(a: Answer, what: string): Row[] {
  assert.equal(a.status, 200, `${what}: ${JSON.stringify(a.body)}`);
  return rowsOf(a.body.data?.result ?? []);
}

/** Differences between the embedded and the remote answer, as readable lines (empty when they agree). */
function compare(what: string, embedded: Row[], remote: Row[], rel: number): string[] {
  return compareRows(what, embedded, remote, rel, { want: "embedded", got: "remote" });
}

interface Traffic {
  series: SampleSeries[];
  projects: string[];
  models: Record<string, string[]>;
  /** Instant evaluation times (ms, whole seconds) and a range [from, to] at which to compare. */
  times: number[];
  range: { from: number; to: number; step: number };
  tolerance: number;
}

function traffic(kind: EngineKind, now: number): Traffic {
  const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000;
  if (kind === "prometheus") {
    const durationMs = 150 * MIN;
    const fleet = generateFleet({ startMs: wholeSecond(now - durationMs - MIN), durationMs });
    const from = fleet.startMs + 10 * MIN;
    const times = Array.from({ length: 12 }, (_, i) => wholeSecond(from + (i * (fleet.endMs - from)) / 11));
    // The moments where the fleet misbehaves: just after the crash and inside the scrape outage.
    times.push(
      wholeSecond(fleet.events.reset.atMs + 30_000),
      wholeSecond(fleet.events.gap.fromMs + 4 * MIN),
      wholeSecond(fleet.events.deployed.atMs + 3 * MIN),
    );
    return {
      series: fleet.series,
      projects: fleet.projects,
      models: fleet.models,
      times,
      range: { from: wholeSecond(from), to: wholeSecond(fleet.endMs), step: 60_000 },
      tolerance: 1e-12,
    };
  }
  const fleet = generateSteadyFleet({ startMs: wholeSecond(now - 50 * MIN - MIN) });
  const { fromMs, toMs } = exactRateRange(fleet, 300_000);
  const from = Math.ceil(fromMs / 1000) * 1000;
  const to = wholeSecond(toMs);
  const times = Array.from({ length: 8 }, (_, i) => wholeSecond(from + (i * (to - from)) / 7));
  return {
    series: fleet.series,
    projects: fleet.projects,
    models: fleet.models,
    times,
    range: { from, to, step: 60_000 },
    tolerance: 1e-9,
  };
}

/** The page's queries for a project: each panel per model and per model × tier, one model and all. */
function pageQueries(project: string, model: string): string[] {
  const out: string[] = [];
  for (const f of [
    { model: null, tier: null, splitTier: false },
    { model: null, tier: null, splitTier: true },
    { model, tier: "pt", splitTier: false },
  ]) {
    for (const panel of PANELS) for (const q of panel.queries(project, f)) out.push(q.query);
  }
  return out;
}

for (const kind of ["prometheus", "victoria-metrics"] as const) {
  describe(`remote storage mode on ${kind}`, { skip: engineSkip(kind) }, () => {
    let engine: EngineHandle;
    let embedded: Mim;
    let remote: Mim;
    let data: Traffic;

    before(async () => {
      engine = await startEngineOfKind(kind);
      embedded = await Mim.start(null);
      remote = await Mim.start(engine);
      data = traffic(kind, Date.now());
      await feedBoth(data.series, embedded, remote, engine);
    });

    after(async () => {
      await remote?.close();
      await embedded?.close();
      await engine?.close();
    });

    it("the page's five panels answer the same as in embedded mode", async () => {
      const failures: string[] = [];
      let nonEmpty = 0;
      for (const project of data.projects) {
        for (const query of pageQueries(project, data.models[project][0])) {
          for (const t of data.times) {
            const params = { query, time: String(t / 1000) };
            const e = rows(await embedded.get(project, "/api/v1/query", params), `embedded ${query}`);
            const r = rows(await remote.get(project, "/api/v1/query", params), `remote ${query}`);
            if (e.length > 0) nonEmpty++;
            failures.push(...compare(`${query} at ${t}`, e, r, data.tolerance));
          }
          const range = {
            query,
            start: String(data.range.from / 1000),
            end: String(data.range.to / 1000),
            step: String(data.range.step / 1000),
          };
          const e = rows(await embedded.get(project, "/api/v1/query_range", range), `embedded ${query}`);
          const r = rows(await remote.get(project, "/api/v1/query_range", range), `remote ${query}`);
          failures.push(...compare(`${query} over the range`, e, r, data.tolerance));
        }
      }
      assert.deepEqual(failures.slice(0, 10), [], `${failures.length} differences`);
      // The comparison must have had something to compare.
      assert.ok(
        nonEmpty > data.projects.length * data.times.length * 10,
        `only ${nonEmpty} non-empty answers`,
      );
    });

    it("series, label names and label values answer the same as in embedded mode", async () => {
      const project = data.projects[0];
      const sorted = (a: Answer) =>
        JSON.stringify((a.body.data as unknown as unknown[]).map((x) => JSON.stringify(x)).sort());
      for (const [path, params] of [
        ["/api/v1/labels", {}],
        ["/api/v1/label/model_name/values", {}],
        ["/api/v1/label/project_id/values", {}],
        ["/api/v1/label/__name__/values", { "match[]": '{__name__=~"crusoe_.+_count"}' }],
        ["/api/v1/series", { "match[]": "crusoe_inference_request_count" }],
        [
          "/api/v1/series",
          { "match[]": ['{project_id=~".+",service_tier="pt"}', "crusoe_inference_input_token_count"] },
        ],
      ] as const) {
        const e = await embedded.get(project, path, params);
        const r = await remote.get(project, path, params);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(sorted(r), sorted(e), `${path} ${JSON.stringify(params)}`);
        assert.ok((e.body.data as unknown as unknown[]).length > 0, `${path}: embedded answered nothing`);
      }
      const projects = await remote.get(project, "/api/v1/label/project_id/values", {});
      assert.deepEqual(projects.body.data, [project]);
    });

    it("an engine outage loses no sample: queued meanwhile, 503 on queries, all there after", async () => {
      const project = data.projects[0];
      const model = data.models[project][0];
      const t0 = Math.floor(Date.now() / 1000) * 1000 - 5 * MIN;
      const probe = (n: number, from: number): SampleSeries[] =>
        [0, 1, 2].map((i) => ({
          labels: { __name__: "outage_probe", project_id: project, model_name: model, shard: String(i) },
          samples: Array.from({ length: n }, (_, j) => [from + j * 1000 + i, j] as const),
        }));
      const count = "sum(count_over_time(outage_probe[10m]))";
      await remote.write(probe(60, t0));
      await settle(remote, engine);
      const before = await remote.get(project, "/api/v1/query", {
        query: count,
        time: String((t0 + 4 * MIN) / 1000),
      });
      assert.equal(before.body.data?.result?.[0]?.value?.[1], "180");

      // Retries before the outage (earlier tests' traffic) must not count as meeting it.
      const metricValue = async (name: string) => {
        const text = await (await fetch(`${remote.service.url}/metrics`)).text();
        return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
      };
      const retriesBefore = remote.service.remote?.status().retries ?? 0;
      const retriesMetricBefore = await metricValue("mim_remote_storage_retries_total");

      await engine.stop();
      // Samples keep arriving while the engine is away: each batch is acknowledged (queued).
      for (let batch = 1; batch <= 3; batch++) await remote.write(probe(60, t0 + batch * MIN));
      const status = remote.service.remote?.status();
      assert.ok(status && status.queuedSamples >= 540, `queued: ${status?.queuedSamples}`);
      const during = await remote.get(project, "/api/v1/query", { query: count });
      assert.equal(during.status, 503);
      assert.equal(during.body.status, "error");
      assert.equal(during.body.errorType, "unavailable");
      assert.ok(during.headers.get("retry-after"));
      // Samples written after the stop must go out within the batch deadline (1 s) and fail, so
      // the sender meets the outage for certain; the engine comes back only once it has (a retry,
      // and the engine marked unreachable), else the first attempt could succeed and prove nothing.
      await until(
        () => {
          const st = remote.service.remote?.status();
          return st !== undefined && st.retries > retriesBefore && st.unreachableSince !== null;
        },
        "the sender retried during the outage",
        30_000,
      );

      await engine.start();
      await settle(remote, engine);
      const afterOutage = await remote.get(project, "/api/v1/query", {
        query: count,
        time: String((t0 + 4 * MIN) / 1000),
      });
      assert.equal(afterOutage.status, 200);
      assert.equal(afterOutage.body.data?.result?.[0]?.value?.[1], String(4 * 180));
      const s = remote.service.remote?.status();
      assert.equal(s?.queuedSamples, 0);
      assert.equal(s?.failedSamples, 0, `dropped: ${JSON.stringify(s?.lastError)}`);
      // The operator sees the outage in the service's own metrics.
      const retriesMetric = await metricValue("mim_remote_storage_retries_total");
      assert.ok(
        retriesMetric > retriesMetricBefore,
        `retries_total ${retriesMetricBefore} → ${retriesMetric}`,
      );
      assert.equal(await metricValue("mim_remote_storage_queued_samples"), 0);
      assert.ok((await metricValue("mim_remote_storage_sent_samples_total")) >= 720);
      // And the fleet's data from before the outage is intact.
      const fleetCount = await remote.get(project, "/api/v1/series", {
        "match[]": "crusoe_inference_request_count",
      });
      const fleetEmbedded = await embedded.get(project, "/api/v1/series", {
        "match[]": "crusoe_inference_request_count",
      });
      assert.equal(
        (fleetCount.body.data as unknown as unknown[]).length,
        (fleetEmbedded.body.data as unknown as unknown[]).length,
      );
    });
  });
}
