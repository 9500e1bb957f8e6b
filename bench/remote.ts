/**
 * Remote storage mode, side by side with the engine alone and with embedded mode
 * (`npm run bench:remote`; needs Debian's victoria-metrics, or VICTORIA_METRICS=path):
 *
 *  1. forwarding: a synthetic fleet's hour (bench/fleet.ts, scraped every 15 s) committed into a
 *     remote-mode service's queue as the gateway would, then shipped to VictoriaMetrics 1.79:
 *     commit rate, and delivery rate until the queue is empty;
 *  2. queries: the page's five panels for one project over the hour (range, 15 s step) and at its
 *     end (instant), through our API in remote mode, sent directly to VictoriaMetrics (the same
 *     rewritten text, no auth), and through our API in embedded mode on the same samples.
 *     Prints p50/p95 of each and what remote mode adds on top of the engine.
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
import { engineAvailable, startVictoriaMetrics } from "../test/support/engines.js";
import { testServiceConfig } from "../test/support/service-config.js";
import { PANELS } from "../web/src/queries.js";
import { Fleet, SCRAPE_INTERVAL_MS } from "./fleet.js";

const PROJECTS = Number(process.env.PROJECTS ?? 10);
const MODELS = Number(process.env.MODELS ?? 10);
const SCRAPES = Number(process.env.SCRAPES ?? 240);
const RUNS = Number(process.env.RUNS ?? 20);
const ADMIN_KEY = "mim_adm_bench-remote-0123456789abcdef";

if (!engineAvailable("victoria-metrics")) {
  console.error("bench:remote needs Debian's victoria-metrics (apt-get install victoria-metrics)");
  process.exit(1);
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
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50: r(percentile(ms, 0.5)), p95: r(percentile(ms, 0.95)) };
}

const vm = await startVictoriaMetrics();
const dirs = [mkdtempSync(join(tmpdir(), "bench-remote-")), mkdtempSync(join(tmpdir(), "bench-embedded-"))];
const remote = await service(dirs[0], { writeUrl: vm.writeUrl, queryUrl: vm.url });
const embedded = await service(dirs[1]);
try {
  // 1. Forwarding.
  const fleet = new Fleet(PROJECTS, MODELS);
  const endMs = Math.floor(Date.now() / SCRAPE_INTERVAL_MS) * SCRAPE_INTERVAL_MS;
  const startMs = endMs - (SCRAPES - 1) * SCRAPE_INTERVAL_MS;
  const samples = fleet.seriesCount * SCRAPES;
  console.log(`fleet: ${fleet.seriesCount} series × ${SCRAPES} scrapes = ${samples} samples`);
  const refs = { remote: new Float64Array(fleet.seriesCount), embedded: new Float64Array(fleet.seriesCount) };
  let commitMs = 0;
  const shipStart = performance.now();
  for (let s = 0; s < SCRAPES; s++) {
    fleet.step();
    const t = startMs + s * SCRAPE_INTERVAL_MS;
    for (const [name, target] of [
      ["remote", remote],
      ["embedded", embedded],
    ] as const) {
      const t0 = performance.now();
      const app = target.appendable.appender();
      const r = refs[name];
      for (let i = 0; i < fleet.seriesCount; i++)
        r[i] = app.append(r[i], fleet.labels[i], t, fleet.values[i]);
      app.commit();
      if (name === "remote") commitMs += performance.now() - t0;
    }
  }
  if (!(await remote.remote?.drain(600_000))) throw new Error("the queue did not drain in 10 minutes");
  const shipMs = performance.now() - shipStart;
  await vm.flush();
  const forwarding = {
    remote_commit_samples_per_s: Math.round(samples / (commitMs / 1000)),
    remote_delivered_samples_per_s: Math.round(samples / (shipMs / 1000)),
  };
  console.log(
    `forwarding: commits into the queue ${forwarding.remote_commit_samples_per_s} samples/s; delivered to VictoriaMetrics ${forwarding.remote_delivered_samples_per_s} samples/s (commit to empty queue, embedded commits interleaved)`,
  );

  // 2. Queries.
  const project = "proj-00000000";
  const tokens = { remote: await token(remote, project), embedded: await token(embedded, project) };
  const base = (s: RunningService) => s.url + TIMESERIES_PREFIX.replace(":projectId", project);
  const filters = { model: null, tier: null, splitTier: false };
  const queries: Record<string, Record<string, { p50: number; p95: number }>> = {};
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
      const row = {
        remote: await timeIt(() =>
          fetch(`${base(remote)}${path}?${params}`, {
            headers: { authorization: `Bearer ${tokens.remote}` },
          }),
        ),
        engine: await timeIt(() => fetch(`${vm.url}${path}?${direct}`)),
        embedded: await timeIt(() =>
          fetch(`${base(embedded)}${path}?${params}`, {
            headers: { authorization: `Bearer ${tokens.embedded}` },
          }),
        ),
      };
      const name = `${panel.id} ${kind}`;
      queries[name] = row;
      console.log(
        `${name.padEnd(18)} p50 ms: remote ${row.remote.p50}, VictoriaMetrics alone ${row.engine.p50} (remote adds ${Math.round((row.remote.p50 - row.engine.p50) * 100) / 100}), embedded ${row.embedded.p50}`,
      );
    }
  }
  console.log(JSON.stringify({ series: fleet.seriesCount, samples, ...forwarding, queries }));
} finally {
  await remote.close();
  await embedded.close();
  await vm.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
