/**
 * Remote-write ingest, side by side: the same pre-encoded Prometheus remote-write 1.0 payloads
 * (a synthetic fleet, 2,000 samples per request, sharded by series like Prometheus's queue
 * manager) sent to this service and to Prometheus 2.42 (Debian's `prometheus` with
 * --web.enable-remote-write-receiver), each running in its own process on loopback. Prints
 * samples/s for both and the ratio; the last line is JSON.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnMimServe } from "../test/support/mim-process.js";
import { Fleet } from "./fleet.js";
import {
  closeSenders,
  PayloadBuilder,
  type Payloads,
  SAMPLES_PER_REQUEST,
  SHARDS,
  send,
} from "./payloads.js";

export type { Payloads } from "./payloads.js";
export { send } from "./payloads.js";

const PROMETHEUS = process.env.PROMETHEUS ?? "/usr/bin/prometheus";

/** A fleet's scrapes as remote-write requests: each series always goes through the same shard. */
export function buildPayloads(projects: number, models: number, scrapes: number, endMs: number): Payloads {
  const fleet = new Fleet(projects, models);
  const builder = new PayloadBuilder(fleet.labels);
  for (let s = 0; s < scrapes; s++) {
    fleet.step();
    builder.addScrape(endMs - (scrapes - 1 - s) * 15_000, fleet.values);
  }
  return builder.payloads();
}

async function ready(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became ready`);
}

export async function startOurs(
  dir: string,
): Promise<{ url: string; token: string; stop: () => Promise<void> }> {
  const adminKey = "mim_adm_bench-admin-key-0123456789";
  const mim = await spawnMimServe(
    [
      "--data-dir",
      dir,
      "--listen",
      "127.0.0.1:0",
      "--no-cli-config",
      "--remote-write-rate",
      "0",
      "--log-level",
      "warn",
    ],
    { ...process.env, MIM_ADMIN_KEY: adminKey },
    // MIM_BENCH_PROF=dir writes a CPU profile of the service into dir.
    process.env.MIM_BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.MIM_BENCH_PROF}`] : [],
  );
  const res = await fetch(`${mim.url}/v1alpha5/ingest-tokens`, {
    method: "POST",
    headers: { Authorization: `Bearer ${adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "bench" }),
  });
  const { token } = (await res.json()) as { token: string };
  return {
    url: `${mim.url}/api/v1/write`,
    token,
    stop: async () => {
      await mim.stop();
    },
  };
}

export async function startPrometheus(
  dir: string,
  port: number,
): Promise<{ url: string; stop: () => Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "prometheus.yml"), "global:\n  scrape_interval: 15s\n");
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--web.enable-remote-write-receiver",
      "--log.level=warn",
    ],
    { stdio: "ignore" },
  );
  await ready(`http://127.0.0.1:${port}/-/ready`);
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** Runs the comparison and returns its figures (also printed). */
export async function runRemoteWriteComparison(): Promise<Record<string, number>> {
  const projects = Number(process.env.PROJECTS ?? 40);
  const models = Number(process.env.MODELS ?? 5);
  const scrapes = Number(process.env.SCRAPES ?? 40);
  const endMs = Math.floor(Date.now() / 15_000) * 15_000 - 60_000;
  const t0 = performance.now();
  const payloads = buildPayloads(projects, models, scrapes, endMs);
  const requests = payloads.shards.reduce((a, s) => a + s.length, 0);
  console.log(
    `remote-write: ${payloads.series} series × ${scrapes} scrapes = ${payloads.samples} samples in ${requests} requests of ≤${SAMPLES_PER_REQUEST}, ${SHARDS} shards (encoded in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const dir = mkdtempSync(join(tmpdir(), "mim-bench-rw-"));
  const results: Record<string, number> = {};
  try {
    const ours = await startOurs(join(dir, "ours"));
    try {
      const s = await send(payloads, ours.url, ours.token);
      results.remote_write_ours_samples_per_s = Math.round(payloads.samples / s);
      console.log(
        `  this service:     ${(results.remote_write_ours_samples_per_s / 1e6).toFixed(2)} M samples/s (${s.toFixed(1)} s)`,
      );
    } finally {
      await ours.stop();
    }
    const prom = await startPrometheus(join(dir, "prom"), 19090 + Math.floor(Math.random() * 500));
    try {
      const s = await send(payloads, prom.url);
      results.remote_write_prometheus_samples_per_s = Math.round(payloads.samples / s);
      console.log(
        `  Prometheus 2.42:  ${(results.remote_write_prometheus_samples_per_s / 1e6).toFixed(2)} M samples/s (${s.toFixed(1)} s)`,
      );
    } finally {
      await prom.stop();
    }
    results.remote_write_ratio =
      Math.round(
        (results.remote_write_ours_samples_per_s / results.remote_write_prometheus_samples_per_s) * 100,
      ) / 100;
    console.log(`  ratio (this service / Prometheus): ${results.remote_write_ratio}`);
  } finally {
    closeSenders();
    rmSync(dir, { recursive: true, force: true });
  }
  return { remote_write_series: payloads.series, remote_write_samples: payloads.samples, ...results };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runRemoteWriteComparison()));
}
