/**
 * Real remote storage engines from Debian, run on loopback for end-to-end tests of remote storage
 * mode: Prometheus 2.42 (`/usr/bin/prometheus`, remote-write receiver enabled) and single-node
 * VictoriaMetrics 1.79 (`/usr/bin/victoria-metrics`). Each run gets a free 127.0.0.1 port and a
 * temp directory holding the data (`data/`), the log (`engine.log`) and, for Prometheus, a minimal
 * config; `stop()` then `start()` restarts on the same data and port, and so does `kill()` (a crash,
 * SIGKILL) then `start()`. Child processes are SIGKILLed if the test process exits while they run.
 *
 * Binaries can be overridden with PROMETHEUS and VICTORIA_METRICS. Tests use `engineSkip(kind)` as
 * their `skip` option: in CI (CI=true) a missing binary fails the test (start throws), locally it
 * skips it.
 *
 * VictoriaMetrics runs with `-retentionPeriod=100y`: it silently drops samples older than
 * now − retention, and fixed-date test data (fleet-samples.ts starts 2025-06-02) is already more than
 * the 1y one might pick. `-search.latencyOffset=0s` makes queries see data up to `time` (default:
 * only up to now − 30 s); `-search.maxStepForPointsAdjustment=0s` stops query_range with a step
 * under 1 m from dropping its points in the last step before now (it does even with a zero latency
 * offset); `-search.disableCache` keeps its rollup result cache from answering with results
 * computed before later writes. Freshly written samples become searchable within ~10 s by
 * themselves; `flush()` (/internal/force_flush) makes them so at once, except samples stamped in
 * the current second, which 1.79 hides for up to ~1 s more.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeRemoteWriteBody, type TimeSeriesInput } from "../../src/ingest/remote-write/index.js";
import { labelsFromObject } from "../../src/storage/index.js";
import type { SampleSeries } from "../api/harness.js";

export type EngineKind = "prometheus" | "victoria-metrics";

export interface EngineHandle {
  kind: EngineKind;
  /** Base of the Prometheus HTTP API, e.g. http://127.0.0.1:PORT (queries go to `${url}/api/v1/query`). */
  url: string;
  /** The remote-write endpoint. */
  writeUrl: string;
  /** The temp directory: `data/`, `engine.log` and any config. */
  dir: string;
  /** SIGTERM, then wait for the exit (SIGKILL after 10 s). No-op when not running. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL: a crash) and waits for the exit. No-op when not running. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** The running process's id, undefined when not running. */
  readonly pid: number | undefined;
  /** Starts again on the same data directory and port; resolves when ready. No-op when running. */
  start(): Promise<void>;
  /**
   * Makes what was written so far searchable: VictoriaMetrics's /internal/force_flush; nothing for
   * Prometheus. VictoriaMetrics 1.79 still hides samples stamped in the current second for up to
   * ~1 s after it: poll for data written at "now".
   */
  flush(): Promise<void>;
  /** stop() and remove the temp directory. */
  close(): Promise<void>;
  /** The engine's log so far (all runs), for assertion messages. */
  log(): string;
}

const BINARIES: Record<EngineKind, string> = {
  prometheus: process.env.PROMETHEUS ?? "/usr/bin/prometheus",
  "victoria-metrics": process.env.VICTORIA_METRICS ?? "/usr/bin/victoria-metrics",
};

const READY_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 50;
const KILL_AFTER_MS = 10_000;

/** How long start() waits for the engine to be ready, and how often it asks. */
export interface EngineOptions {
  /** Default 15 s; a restart on a large data directory (log replay) may need more. */
  readyTimeoutMs?: number;
  /** Default 50 ms; a benchmark timing restarts asks more often. */
  readyPollMs?: number;
}

export function engineBinary(kind: EngineKind): string {
  return BINARIES[kind];
}

/** True when the engine's binary exists and is executable. */
export function engineAvailable(kind: EngineKind): boolean {
  try {
    accessSync(BINARIES[kind], constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `skip` option for a test that needs `kind`: false when the binary is there, and also in CI
 * (CI=true), where the test then fails because starting the engine throws; a reason to skip locally.
 */
export function engineSkip(kind: EngineKind): string | false {
  if (engineAvailable(kind) || process.env.CI === "true") return false;
  return `${BINARIES[kind]} is missing; skipped (CI=true fails instead)`;
}

/** A free TCP port on 127.0.0.1 (free when checked: the engine binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

interface EngineSpec {
  kind: EngineKind;
  /** Debian package, for the missing-binary error. */
  pkg: string;
  readyPath: string;
  writePath: string;
  /** Writes any config into `dir` and returns the arguments. */
  args(dir: string, port: number): string[];
  flush(url: string): Promise<void>;
}

const PROMETHEUS_SPEC: EngineSpec = {
  kind: "prometheus",
  pkg: "prometheus",
  readyPath: "/-/ready",
  writePath: "/api/v1/write",
  args(dir, port) {
    const config = join(dir, "prometheus.yml");
    writeFileSync(config, "global:\n  scrape_interval: 15s\n");
    return [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--web.enable-remote-write-receiver",
      "--log.level=warn",
    ];
  },
  async flush() {},
};

const VICTORIA_METRICS_SPEC: EngineSpec = {
  kind: "victoria-metrics",
  pkg: "victoria-metrics",
  readyPath: "/health",
  writePath: "/api/v1/write",
  args(dir, port) {
    return [
      "-retentionPeriod=100y",
      "-search.latencyOffset=0s",
      "-search.disableCache",
      "-search.maxStepForPointsAdjustment=0s",
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${join(dir, "data")}`,
      "-loggerLevel=WARN",
    ];
  },
  async flush(url) {
    const res = await fetch(`${url}/internal/force_flush`);
    if (!res.ok) throw new Error(`victoria-metrics force_flush: HTTP ${res.status} ${await res.text()}`);
  },
};

class Engine implements EngineHandle {
  readonly kind: EngineKind;
  readonly url: string;
  readonly writeUrl: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly logPath: string;
  private readonly killOnExit = () => this.child?.kill("SIGKILL");

  constructor(
    private readonly spec: EngineSpec,
    readonly dir: string,
    readonly port: number,
    private readonly opts: EngineOptions = {},
  ) {
    this.kind = spec.kind;
    this.url = `http://127.0.0.1:${port}`;
    this.writeUrl = this.url + spec.writePath;
    this.logPath = join(dir, "engine.log");
  }

  log(): string {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  get pid(): number | undefined {
    return this.running() ? this.child?.pid : undefined;
  }

  private running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const bin = BINARIES[this.kind];
    if (!engineAvailable(this.kind)) {
      throw new Error(`${bin} is missing: install Debian's ${this.spec.pkg} package (CI must have it)`);
    }
    const args = this.spec.args(this.dir, this.port);
    const fd = openSync(this.logPath, "a");
    let child: ChildProcess;
    try {
      child = spawn(bin, args, { stdio: ["ignore", fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.child = child;
    process.once("exit", this.killOnExit);
    let exitInfo: string | null = null;
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        exitInfo = `exited with ${signal ?? `code ${code}`}`;
        process.off("exit", this.killOnExit);
        resolve();
      };
      child.once("exit", done);
      // A spawn failure (ENOENT, EACCES) emits error, and maybe no exit.
      child.once("error", (e) => {
        exitInfo = `failed to start: ${e.message}`;
        process.off("exit", this.killOnExit);
        resolve();
      });
    });

    const readyTimeoutMs = this.opts.readyTimeoutMs ?? READY_TIMEOUT_MS;
    const deadline = Date.now() + readyTimeoutMs;
    const readyUrl = this.url + this.spec.readyPath;
    for (;;) {
      if (exitInfo !== null) {
        throw new Error(`${this.kind} ${exitInfo} before it was ready; log:\n${this.log()}`);
      }
      try {
        const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `${this.kind} on ${this.url} not ready after ${readyTimeoutMs / 1000} s (${args.join(" ")}); log:\n${this.log()}`,
        );
      }
      await new Promise((r) => setTimeout(r, this.opts.readyPollMs ?? READY_POLL_MS));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    if (this.running()) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
      await this.exited;
      clearTimeout(t);
    }
    await this.exited;
    process.off("exit", this.killOnExit);
    this.child = null;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.child;
    if (child === null) return;
    if (this.running()) child.kill(signal);
    await this.exited;
    process.off("exit", this.killOnExit);
    this.child = null;
  }

  flush(): Promise<void> {
    return this.spec.flush(this.url);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function startEngine(spec: EngineSpec, opts: EngineOptions = {}): Promise<EngineHandle> {
  const dir = mkdtempSync(join(tmpdir(), `mim-${spec.kind}-`));
  // The port is free when picked but another process may take it first: try a few.
  for (let attempt = 1; ; attempt++) {
    const engine = new Engine(spec, dir, await freePort(), opts);
    try {
      await engine.start();
      return engine;
    } catch (e) {
      await engine.stop();
      if (attempt < 3 && /address already in use/i.test(engine.log())) {
        // Start over in an empty directory, on another port.
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        continue;
      }
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }
}

/** Prometheus 2.42 with the remote-write receiver, on a free loopback port; ready when it resolves. */
export function startPrometheus(opts: EngineOptions = {}): Promise<EngineHandle> {
  return startEngine(PROMETHEUS_SPEC, opts);
}

/** Single-node VictoriaMetrics 1.79 on a free loopback port; ready when it resolves. */
export function startVictoriaMetrics(opts: EngineOptions = {}): Promise<EngineHandle> {
  return startEngine(VICTORIA_METRICS_SPEC, opts);
}

export function startEngineOfKind(kind: EngineKind, opts: EngineOptions = {}): Promise<EngineHandle> {
  return kind === "prometheus" ? startPrometheus(opts) : startVictoriaMetrics(opts);
}

/** The first and last sample times (ms) of the series; min > max when they hold no sample. */
export function timeSpan(series: readonly SampleSeries[]): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    if (s.samples.length === 0) continue;
    min = Math.min(min, s.samples[0][0]);
    max = Math.max(max, s.samples[s.samples.length - 1][0]);
  }
  return { min, max };
}

/**
 * Sends series to a remote-write endpoint (remote-write 1.0, snappy protobuf), in time order: one
 * request per `sliceMs` of time across all series, so a Prometheus head never sees a sample more
 * than a slice older than one it already has (it refuses those over an hour older as out of bounds,
 * which sending series by series would hit on data longer than an hour). `headers` adds to the
 * request's, e.g. our own receiver's `Authorization: Bearer <ingest token>`.
 */
export async function remoteWrite(
  writeUrl: string,
  series: readonly SampleSeries[],
  opts: { sliceMs?: number; headers?: Readonly<Record<string, string>> } = {},
): Promise<void> {
  const sliceMs = opts.sliceMs ?? 10 * 60_000;
  const { min, max } = timeSpan(series);
  if (min > max) return;
  const labels = series.map((s) => labelsFromObject(s.labels));
  const next = new Array<number>(series.length).fill(0);
  for (let from = min; from <= max; from += sliceMs) {
    const timeseries: TimeSeriesInput[] = [];
    for (let i = 0; i < series.length; i++) {
      const samples = series[i].samples;
      const out: { timestamp: number; value: number }[] = [];
      while (next[i] < samples.length && samples[next[i]][0] < from + sliceMs) {
        const [timestamp, value] = samples[next[i]++];
        out.push({ timestamp, value });
      }
      if (out.length > 0) timeseries.push({ labels: labels[i], samples: out });
    }
    if (timeseries.length === 0) continue;
    const res = await fetch(writeUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
        ...opts.headers,
      },
      body: encodeRemoteWriteBody({ timeseries }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`remote write to ${writeUrl}: HTTP ${res.status} ${text}`);
  }
}

export interface InstantSample {
  metric: Record<string, string>;
  /** [seconds, value as text], as the Prometheus API returns it. */
  value: [number, string];
}

/** GET `${baseUrl}/api/v1/query` at `timeMs`; throws unless it answers with a vector. */
export async function instantQuery(baseUrl: string, query: string, timeMs: number): Promise<InstantSample[]> {
  const params = new URLSearchParams({ query, time: (timeMs / 1000).toFixed(3) });
  const res = await fetch(`${baseUrl}/api/v1/query?${params}`);
  const text = await res.text();
  let body: { status?: string; data?: { resultType?: string; result?: InstantSample[] } };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${query}: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  if (!res.ok || body.status !== "success" || body.data?.resultType !== "vector") {
    throw new Error(`${query}: HTTP ${res.status} ${text.slice(0, 500)}`);
  }
  return body.data.result ?? [];
}
