/**
 * Remote-write ingest in one process, no HTTP: where the CPU goes between the store and the
 * receiver. `node --import tsx --expose-gc bench/remote-write-inproc.ts` (also part of
 * `npm run bench:ingest`). The same pre-encoded requests (a synthetic fleet, one sample per series
 * per request, 2,000 samples a request, as Prometheus's shards send them) go
 *  1. straight into the TSDB's appender (labels looked up, ref 0, as the receiver appends) + commit,
 *  2. through `receiveRemoteWrite` (snappy, decode, normalise, validate, append, commit),
 *  3. the same with the tenant guard (label bounds, the active-series cap, future timestamps),
 * each into a fresh store, in interleaved rounds (ROUNDS, default 3). Prints the median samples
 * per CPU second (steadier than wall time on a shared machine: everything here is synchronous on
 * this thread) and per wall second; the last line is JSON. MIM_BENCH_CASE=tsdb|plain|guarded runs one case; MIM_BENCH_PROF=<file.cpuprofile> writes a
 * CPU profile of the measured loops alone (not the payloads' encoding).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ActiveSeries } from "../src/ingest/active-series.js";
import { DEFAULT_INGEST_LIMITS } from "../src/ingest/limits.js";
import { decodeRemoteWrite } from "../src/ingest/remote-write/index.js";
import { receiveRemoteWrite } from "../src/ingest/remote-write-receiver.js";
import type { Label } from "../src/storage/index.js";
import { Tsdb } from "../src/tsdb/tsdb.js";
import { buildPayloads } from "./remote-write.js";

type Case = "tsdb" | "plain" | "guarded";

const profiler = process.env.MIM_BENCH_PROF ? new Session() : null;
profiler?.connect();
profiler?.post("Profiler.enable");

/** This process's CPU seconds. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The requests in the order a sender's shards would interleave them, time order kept per series. */
function interleave(shards: Uint8Array[][]): Uint8Array[] {
  const out: Uint8Array[] = [];
  const longest = Math.max(...shards.map((s) => s.length));
  for (let i = 0; i < longest; i++) for (const s of shards) if (i < s.length) out.push(s[i]);
  return out;
}

/** The store's own path: each request decoded up front, then appended by labels and committed. */
function decodeForStore(bodies: Uint8Array[]): { labels: Label[][]; ts: Float64Array; vs: Float64Array }[] {
  return bodies.map((body) => {
    const labels: Label[][] = [];
    const ts: number[] = [];
    const vs: number[] = [];
    decodeRemoteWrite(body, {
      series(raw) {
        labels.push([...raw].sort((a, b) => (a.name < b.name ? -1 : 1)));
      },
      samples(t, v, count) {
        // One sample per series in these payloads.
        for (let i = 0; i < count; i++) {
          ts.push(t[i]);
          vs.push(v[i]);
        }
      },
    });
    return { labels, ts: Float64Array.from(ts), vs: Float64Array.from(vs) };
  });
}

function runCase(c: Case, bodies: Uint8Array[], samples: number, dir: string): { cpu: number; wall: number } {
  const db = Tsdb.open({ dir, maintenanceIntervalMs: 0, verifyOnOpen: false });
  try {
    const decoded = c === "tsdb" ? decodeForStore(bodies) : [];
    const guard = {
      limits: { ...DEFAULT_INGEST_LIMITS, maxSeriesPerProject: 1_000_000 },
      activeSeries: new ActiveSeries(1_000_000),
      now: Date.now(),
    };
    globalThis.gc?.();
    profiler?.post("Profiler.start");
    const cpu0 = cpuSeconds();
    const wall0 = performance.now();
    let stored = 0;
    if (c === "tsdb") {
      for (const r of decoded) {
        const app = db.appender();
        for (let i = 0; i < r.labels.length; i++) app.append(0, r.labels[i], r.ts[i], r.vs[i]);
        stored += app.commit().samples;
      }
    } else {
      for (const body of bodies) {
        guard.now = Date.now();
        const out = receiveRemoteWrite(body, db, "*", {}, c === "guarded" ? guard : undefined);
        if (out.rejected > 0) throw new Error(`${c}: rejected ${out.rejected}: ${out.firstError}`);
        stored += out.accepted;
      }
    }
    const cpu = cpuSeconds() - cpu0;
    const wall = (performance.now() - wall0) / 1000;
    profiler?.post("Profiler.stop", (err, res) => {
      if (!err) writeFileSync(`${process.env.MIM_BENCH_PROF}`, JSON.stringify(res.profile));
    });
    if (stored !== samples) throw new Error(`${c}: stored ${stored} of ${samples}`);
    return { cpu, wall };
  } finally {
    db.close();
  }
}

const LABELS: Record<Case, string> = {
  tsdb: "TSDB append (by labels) + commit",
  plain: "receiver, no guard",
  guarded: "receiver, with guard",
};

/** Runs the cases and returns their figures (also printed). */
export function runInProcessRemoteWrite(): Record<string, number> {
  const projects = Number(process.env.PROJECTS ?? 40);
  const models = Number(process.env.MODELS ?? 5);
  const scrapes = Number(process.env.SCRAPES ?? 20);
  const endMs = Math.floor(Date.now() / 15_000) * 15_000 - 60_000;
  const p = buildPayloads(projects, models, scrapes, endMs);
  const bodies = interleave(p.shards);
  console.log(
    `remote-write in process: ${p.series} series × ${scrapes} scrapes = ${p.samples} samples in ${bodies.length} requests, one sample per series each`,
  );
  const only = process.env.MIM_BENCH_CASE as Case | undefined;
  const cases: Case[] = only ? [only] : ["tsdb", "plain", "guarded"];
  const rounds = Number(process.env.ROUNDS ?? 3);
  const root = mkdtempSync(join(tmpdir(), "mim-bench-rwin-"));
  const cpu = new Map<Case, number[]>(cases.map((c) => [c, []]));
  const wall = new Map<Case, number[]>(cases.map((c) => [c, []]));
  try {
    // Rounds interleave the cases, so a neighbour's burst on the shared cores hits all of them.
    for (let r = 0; r < rounds; r++) {
      for (const c of cases) {
        const m = runCase(c, bodies, p.samples, join(root, `${c}-${r}`));
        cpu.get(c)?.push(p.samples / m.cpu);
        wall.get(c)?.push(p.samples / m.wall);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const median = (xs: number[]) => Math.round([...xs].sort((x, y) => x - y)[xs.length >> 1]);
  const out: Record<string, number> = {};
  console.log(`  median of ${rounds} rounds:`);
  for (const c of cases) {
    const perCpu = median(cpu.get(c) ?? []);
    console.log(
      `  ${LABELS[c].padEnd(34)} ${perCpu.toLocaleString("en-US").padStart(10)} samples/CPU-s  (${median(wall.get(c) ?? []).toLocaleString("en-US")} per wall-s)`,
    );
    out[`inproc_${c}_samples_per_cpu_s`] = perCpu;
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(runInProcessRemoteWrite()));
}
