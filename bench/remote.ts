/**
 * Remote storage mode, side by side with the engines alone and with embedded mode
 * (`npm run bench:remote`; needs Debian's victoria-metrics and prometheus, or
 * VICTORIA_METRICS= / PROMETHEUS= paths):
 *
 *  1. forwarding: a synthetic fleet's hour (bench/fleet.ts, scraped every 15 s) committed into two
 *     remote-mode services' queues as the gateway would, one shipping to VictoriaMetrics 1.79 and
 *     one to Prometheus 2.42, and into an embedded service: commit rate, and delivery rate until
 *     each queue is empty;
 *  2. queries: the page's five panels for one project over the hour (range, 15 s step) and at its
 *     end (instant): through our API in embedded mode, sent directly to each engine (the rewritten
 *     text, no auth), and through our API in remote mode on each. Prints p50/p95 of each: embedded
 *     against the engines, and what remote mode adds on top of an engine.
 *
 * Everything runs in this process and on loopback on a shared machine: read the differences, not
 * the absolute figures. The last line is JSON.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TIMESERIES_PREFIX } from "../src/api/server.js";
import { type RunningService, startService } from "../src/cli/service.js";
import { enforceProject } from "../src/remote/enforce.js";
import {
  type EngineHandle,
  engineAvailable,
  startPrometheus,
  startVictoriaMetrics,
} from "../test/support/engines.js";
import { testServiceConfig } from "../test/support/service-config.js";
import { PANELS } from "../web/src/queries.js";
import { Fleet, SCRAPE_INTERVAL_MS } from "./fleet.js";

const PROJECTS = Number(process.env.PROJECTS ?? 10);
const MODELS = Number(process.env.MODELS ?? 10);
const SCRAPES = Number(process.env.SCRAPES ?? 240);
const RUNS = Number(process.env.RUNS ?? 20);
const ADMIN_KEY = "mim_adm_bench-remote-0123456789abcdef";

for (const kind of ["victoria-metrics", "prometheus"] as const) {
  if (!engineAvailable(kind)) {
    console.error(`bench:remote needs Debian's ${kind} (apt-get install ${kind})`);
    process.exit(1);
  }
}

async function service(
  dir: string,
  remote?: { writeUrl: string; queryUrl: string },
): Promise<RunningService> {
  return startService(
    testServiceConfig(dir, ADMIN_KEY, { builtinRules: false, ...(remote ? { remote } : {}) }),
  );
}

async function token(s: RunningService, project: string): Promise<string> {
  const res = await fetch(`${s.url}/v1alpha5/projects/${project}/monitoring/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench" }),
  });
  const body = (await res.json()) as { token?: string };
  if (!body.token) throw new Error(`creating a token: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function timeIt(run: () => Promise<Response>): Promise<{ p50: number; p95: number }> {
  const ms: number[] = [];
  for (let i = 0; i < RUNS + 2; i++) {
    const t0 = performance.now();
    const res = await run();
    const body = await res.text();
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.slice(0, 300)}`);
    if (i >= 2) ms.push(performance.now() - t0); // the first two warm caches and connections
  }
  ms.sort((a, b) => a - b);
  return { p50: round2(percentile(ms, 0.5)), p95: round2(percentile(ms, 0.95)) };
}

type Latency = { p50: number; p95: number };

const engines: Record<"vm" | "prom", EngineHandle> = {
  vm: await startVictoriaMetrics(),
  prom: await startPrometheus(),
};
const dirs = ["vm", "prom", "embedded"].map((n) => mkdtempSync(join(tmpdir(), `bench-remote-${n}-`)));
const services: Record<"vm" | "prom" | "embedded", RunningService> = {
  vm: await service(dirs[0], { writeUrl: engines.vm.writeUrl, queryUrl: engines.vm.url }),
  prom: await service(dirs[1], { writeUrl: engines.prom.writeUrl, queryUrl: engines.prom.url }),
  embedded: await service(dirs[2]),
};
try {
  // 1. Forwarding. Scrapes go to the three services in turn; each queue then drains to its engine.
  const fleet = new Fleet(PROJECTS, MODELS);
  const endMs = Math.floor(Date.now() / SCRAPE_INTERVAL_MS) * SCRAPE_INTERVAL_MS;
  const startMs = endMs - (SCRAPES - 1) * SCRAPE_INTERVAL_MS;
  const samples = fleet.seriesCount * SCRAPES;
  console.log(`fleet: ${fleet.seriesCount} series × ${SCRAPES} scrapes = ${samples} samples`);
  const refs = {
    vm: new Float64Array(fleet.seriesCount),
    prom: new Float64Array(fleet.seriesCount),
    embedded: new Float64Array(fleet.seriesCount),
  };
  const commitMs = { vm: 0, prom: 0, embedded: 0 };
  const shipStart = performance.now();
  for (let s = 0; s < SCRAPES; s++) {
    fleet.step();
    const t = startMs + s * SCRAPE_INTERVAL_MS;
    for (const name of ["vm", "prom", "embedded"] as const) {
      const t0 = performance.now();
      const app = services[name].appendable.appender();
      const r = refs[name];
      for (let i = 0; i < fleet.seriesCount; i++)
        r[i] = app.append(r[i], fleet.labels[i], t, fleet.values[i]);
      app.commit();
      commitMs[name] += performance.now() - t0;
    }
  }
  const delivered: Record<string, number> = {};
  await Promise.all(
    (["vm", "prom"] as const).map(async (name) => {
      if (!(await services[name].remote?.drain(600_000))) throw new Error(`${name}: the queue did not drain`);
      delivered[name] = Math.round(samples / ((performance.now() - shipStart) / 1000));
      await engines[name].flush();
    }),
  );
  const forwarding = {
    commit_samples_per_s_embedded: Math.round(samples / (commitMs.embedded / 1000)),
    commit_samples_per_s_remote: Math.round(samples / (commitMs.vm / 1000)),
    delivered_samples_per_s_victoria_metrics: delivered.vm,
    delivered_samples_per_s_prometheus: delivered.prom,
  };
  console.log(
    `forwarding: commits ${forwarding.commit_samples_per_s_remote} samples/s into a queue (embedded store: ${forwarding.commit_samples_per_s_embedded}); delivered to VictoriaMetrics ${delivered.vm}/s and to Prometheus ${delivered.prom}/s, both queues draining at once`,
  );

  // 2. Queries.
  const project = "proj-00000000";
  const tokens = {
    vm: await token(services.vm, project),
    prom: await token(services.prom, project),
    embedded: await token(services.embedded, project),
  };
  const base = (s: RunningService) => s.url + TIMESERIES_PREFIX.replace(":projectId", project);
  const filters = { model: null, tier: null, splitTier: false };
  const queries: Record<string, Record<string, Latency>> = {};
  console.log("p50 ms: embedded | Prometheus alone, through us | VictoriaMetrics alone, through us");
  for (const panel of PANELS) {
    const query = panel.queries(project, filters)[0].query;
    for (const kind of ["range", "instant"] as const) {
      const params = new URLSearchParams(
        kind === "range"
          ? { query, start: String(startMs / 1000), end: String(endMs / 1000), step: "15" }
          : { query, time: String(endMs / 1000) },
      );
      const path = kind === "range" ? "/api/v1/query_range" : "/api/v1/query";
      const direct = new URLSearchParams(params);
      direct.set("query", enforceProject(query, project));
      const ours = (name: "vm" | "prom" | "embedded") =>
        timeIt(() =>
          fetch(`${base(services[name])}${path}?${params}`, {
            headers: { authorization: `Bearer ${tokens[name]}` },
          }),
        );
      const row: Record<string, Latency> = {
        embedded: await ours("embedded"),
        prometheus: await timeIt(() => fetch(`${engines.prom.url}${path}?${direct}`)),
        remote_prometheus: await ours("prom"),
        victoria_metrics: await timeIt(() => fetch(`${engines.vm.url}${path}?${direct}`)),
        remote_victoria_metrics: await ours("vm"),
      };
      const name = `${panel.id} ${kind}`;
      queries[name] = row;
      console.log(
        `${name.padEnd(16)} ${row.embedded.p50} | ${row.prometheus.p50}, ${row.remote_prometheus.p50} (+${round2(row.remote_prometheus.p50 - row.prometheus.p50)}) | ${row.victoria_metrics.p50}, ${row.remote_victoria_metrics.p50} (+${round2(row.remote_victoria_metrics.p50 - row.victoria_metrics.p50)})`,
      );
    }
  }
  console.log(JSON.stringify({ series: fleet.seriesCount, samples, ...forwarding, queries }));
} finally {
  for (const s of Object.values(services)) await s.close();
  for (const e of Object.values(engines)) await e.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
