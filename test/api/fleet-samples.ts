/**
 * A small, deterministic inference fleet for end-to-end tests against a real Prometheus: a few
 * projects × models × service tiers, each combination one scrape target exposing the seed's
 * metric set (three counters, two classic histograms with `le` buckets), scraped every 15 s for
 * a couple of hours with realistic jitter: every target has its own phase, every scrape lands a
 * few hundred ms off schedule with ms precision, and no sample sits on a whole second, so a
 * range boundary at a whole-second query time never coincides with a sample (Prometheus 3's
 * left-open ranges and 2.x's closed ones then select the same samples). The fleet also has the
 * irregularities real ones have: an idle combination (flat counters), a model server that crashes
 * (no scrapes while it reloads, then every counter of it starts over from zero), a scrape outage
 * longer than the lookback delta, and a model deployed part-way through.
 *
 * Processes running when the data starts have served traffic for days, so their counters start
 * high; a new process (the deployment, the restart) is scraped at zero for a few scrapes before
 * traffic reaches it, as model servers warming up are. A counter that instead first shows up with
 * about one scrape's worth already counted is where Prometheus 2.x and 3.x extrapolate rate()
 * differently; the equality test checks that on a probe series of its own.
 *
 * The same samples go to the service (`SampleSeries`, for the harness's `load`) and to
 * Prometheus (`toOpenMetrics`, for `promtool tsdb create-blocks-from openmetrics`).
 */
import { mulberry32 } from "../../src/sim/random.js";
import type { SampleSeries } from "./harness.js";

export const SCRAPE_INTERVAL_MS = 15_000;

/** Time to first token buckets, seconds (a trimmed vLLM set). */
export const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4];
/** Time per output token buckets, seconds. */
export const TPOT_BUCKETS = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32];

export const COUNTERS = [
  "crusoe_inference_request_count",
  "crusoe_inference_input_token_count",
  "crusoe_inference_output_token_count",
] as const;
export const HISTOGRAMS = [
  "crusoe_inference_histogram_first_token_latency",
  "crusoe_inference_histogram_output_token_latency",
] as const;

export interface FleetTarget {
  project: string;
  model: string;
  tier: "pt" | "on_demand";
  /** Mean requests per second (0: idle). */
  reqPerSec: number;
  /** Scheduled scrape timestamps of this target, ms (those of the crash and the outage failed). */
  scrapes: number[];
}

export interface FleetOptions {
  seed?: number;
  /** First scheduled scrape, ms (default 2025-06-02T09:00:00Z). */
  startMs?: number;
  /** Length of the data, ms (default 2.5 h). */
  durationMs?: number;
}

export interface FleetData {
  series: SampleSeries[];
  targets: FleetTarget[];
  /** Project ids, in generation order; models[project] lists its models. */
  projects: string[];
  models: Record<string, string[]>;
  startMs: number;
  /** Last scheduled scrape (samples may be a few hundred ms later). */
  endMs: number;
  /** Notable moments, for picking evaluation times. */
  events: {
    /** The target whose model server crashes and restarts, and the time of its first sample after. */
    reset: { target: FleetTarget; atMs: number };
    /** The target whose scrapes fail, and the [from, to) of the outage. */
    gap: { target: FleetTarget; fromMs: number; toMs: number };
    /** The model that appears part-way, and its first scrape. */
    deployed: { project: string; model: string; atMs: number };
    /** An idle target (no traffic at all). */
    idle: FleetTarget;
  };
  sampleCount: number;
}

export const MODELS = [
  "meta-llama/Llama-3.3-70B-Instruct",
  "meta-llama/Llama-3.1-8B-Instruct",
  "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
  "Qwen/Qwen2.5-Coder-32B-Instruct",
  "mistralai/Mistral-Nemo-Instruct-2407",
];

/** A UUID-shaped project id from the PRNG. */
export function uuid(random: () => number): string {
  let hex = "";
  for (let i = 0; i < 32; i++) hex += Math.floor(random() * 16).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

/** Seconds with exactly three decimals, as an OpenMetrics timestamp. */
export function formatTimestampSeconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/**
 * True when a parser that reads the timestamp as a float64 of seconds and converts it to ms (by
 * truncation, as Prometheus's text parsers do, or by rounding) gets exactly `ms` back.
 */
export function roundTrips(ms: number): boolean {
  const x = Number(formatTimestampSeconds(ms)) * 1000;
  return Math.trunc(x) === ms && Math.round(x) === ms;
}

/** Scrape timestamps: scheduled every 15 s from a per-target phase, each off by up to ±350 ms. */
function scrapeTimes(random: () => number, startMs: number, endMs: number): number[] {
  const phase = Math.floor(random() * SCRAPE_INTERVAL_MS);
  const out: number[] = [];
  for (let t = startMs + phase; t <= endMs; t += SCRAPE_INTERVAL_MS) {
    let ms = t + Math.round((random() * 2 - 1) * 350);
    // Never on a whole second, and exact through a float64 of seconds.
    while (ms % 1000 === 0 || !roundTrips(ms)) ms++;
    out.push(ms);
  }
  return out;
}

function lognormal(random: () => number, median: number, sigma: number): number {
  const u = Math.max(random(), 1e-12);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return median * Math.exp(sigma * z);
}

/** The number of events of a Poisson process with mean `mean` (normal approximation above 30). */
function poisson(random: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 30) {
    const u = Math.max(random(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * z));
  }
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= random();
  } while (p > l);
  return k - 1;
}

export function generateFleet(o: FleetOptions = {}): FleetData {
  const random = mulberry32(o.seed ?? 20250602);
  const startMs = o.startMs ?? Date.UTC(2025, 5, 2, 9, 0, 0);
  const endMs = startMs + (o.durationMs ?? 150 * 60_000);

  // 3 projects with 3, 2 and 2 models, both tiers each: 14 scrape targets.
  const projects = [uuid(random), uuid(random), uuid(random)];
  const models: Record<string, string[]> = {};
  const modelCounts = [3, 2, 2];
  const targets: FleetTarget[] = [];
  for (let p = 0; p < projects.length; p++) {
    models[projects[p]] = [];
    for (let m = 0; m < modelCounts[p]; m++) {
      const model = MODELS[(p * 2 + m) % MODELS.length];
      models[projects[p]].push(model);
      for (const tier of ["on_demand", "pt"] as const) {
        // Provisioned throughput carries steady heavy traffic; on-demand is lighter and burstier.
        const reqPerSec = tier === "pt" ? 2 + random() * 6 : 0.05 + random() * 1.5;
        targets.push({ project: projects[p], model, tier, reqPerSec, scrapes: [] });
      }
    }
  }

  // The irregularities, all in the first project so one project's queries meet every one.
  const p0 = projects[0];
  const idle = targets.find((t) => t.project === projects[1] && t.tier === "on_demand")!;
  idle.reqPerSec = 0;
  const resetTarget = targets.find((t) => t.project === p0 && t.model === models[p0][0] && t.tier === "pt")!;
  const gapTarget = targets.find(
    (t) => t.project === p0 && t.model === models[p0][1] && t.tier === "on_demand",
  )!;
  const deployedModel = models[p0][2];
  const deployAt = startMs + 62 * 60_000;
  const crashAt = startMs + 70 * 60_000;
  const resetAt = crashAt + 100_000;
  const gapFrom = startMs + 95 * 60_000;
  const gapTo = gapFrom + 11 * 60_000;

  const series: SampleSeries[] = [];
  let sampleCount = 0;
  let resetFirstSample = 0;
  for (const target of targets) {
    const deployed = target.model === deployedModel && target.project === p0;
    target.scrapes = scrapeTimes(random, deployed ? deployAt : startMs, endMs);
    const base = { project_id: target.project, model_name: target.model, service_tier: target.tier };
    const big = /70B|32B/.test(target.model);
    const ttftMedian = (big ? 0.32 : 0.09) * (target.tier === "pt" ? 0.8 : 1.2);
    const tpotMedian = big ? 0.042 : 0.013;

    // Cumulative state of the target's process.
    let requests = 0;
    let input = 0;
    let output = 0;
    const hist = [
      { buckets: TTFT_BUCKETS, counts: new Array<number>(TTFT_BUCKETS.length + 1).fill(0), sum: 0 },
      { buckets: TPOT_BUCKETS, counts: new Array<number>(TPOT_BUCKETS.length + 1).fill(0), sum: 0 },
    ];
    /** Serves n requests: observes up to `observe` latencies, the rest follow the same shape. */
    const serve = (n: number, observe: number) => {
      requests += n;
      for (const [k, h] of hist.entries()) {
        const observed = Math.min(n, observe);
        const add = new Array<number>(h.buckets.length + 1).fill(0);
        let sum = 0;
        for (let i = 0; i < observed; i++) {
          const x = lognormal(random, k === 0 ? ttftMedian : tpotMedian, k === 0 ? 0.7 : 0.45);
          sum += x;
          let b = 0;
          while (b < h.buckets.length && x > h.buckets[b]) b++;
          add[b]++;
        }
        const scale = observed > 0 ? n / observed : 0;
        // Scaled counts, the rounding remainder going to the most populated bucket.
        let assigned = 0;
        let top = 0;
        for (let b = 0; b < add.length; b++) {
          const c = Math.floor(add[b] * scale);
          h.counts[b] += c;
          assigned += c;
          if (add[b] > add[top]) top = b;
        }
        h.counts[top] += n - assigned;
        h.sum += sum * scale;
      }
    };
    // A process that was already running when the data starts has served traffic for days; a
    // newly deployed one starts from zero.
    if (!deployed) {
      const n = Math.round(target.reqPerSec * (2 + random() * 3) * 86_400);
      serve(n, 2000);
      input = Math.round(n * (650 + random() * 200));
      output = Math.round(n * (180 + random() * 60));
    }
    // Traffic reaches a new process only once it is ready: a few scrapes show zeros first.
    let trafficFrom = deployed ? deployAt + 40_000 : startMs - SCRAPE_INTERVAL_MS;
    const points: number[][] = [];
    const times: number[] = [];
    let prev = target.scrapes[0] - SCRAPE_INTERVAL_MS;
    let restarted = false;
    for (const t of target.scrapes) {
      if (target === resetTarget && !restarted && t >= crashAt) {
        // The model server crashed: no scrapes while it reloads its weights, then every counter
        // starts over from zero, and traffic comes back once it is ready again.
        if (t < resetAt) continue;
        restarted = true;
        resetFirstSample = t;
        requests = input = output = 0;
        for (const h of hist) {
          h.counts.fill(0);
          h.sum = 0;
        }
        trafficFrom = t + 20_000;
      }
      // Traffic drifts slowly over the day, with noise.
      const from = Math.max(prev, trafficFrom);
      const hour = (t - startMs) / 3_600_000;
      const mean = t > from ? target.reqPerSec * ((t - from) / 1000) * (1 + 0.35 * Math.sin(hour * 2.1)) : 0;
      const n = poisson(random, mean);
      prev = t;
      for (let i = 0; i < n; i++) {
        input += Math.round(lognormal(random, 600, 0.8));
        output += Math.round(lognormal(random, 180, 0.7));
      }
      serve(n, 64);
      if (target === gapTarget && t >= gapFrom && t < gapTo) continue; // scrape failed
      times.push(t);
      const row = [requests, input, output];
      for (const h of hist) {
        let cumulative = 0;
        for (const c of h.counts) {
          cumulative += c;
          row.push(cumulative);
        }
        row.push(h.sum, cumulative);
      }
      points.push(row);
    }

    const names: Array<{ name: string; le?: string }> = COUNTERS.map((name) => ({ name }));
    for (const [k, name] of HISTOGRAMS.entries()) {
      const buckets = k === 0 ? TTFT_BUCKETS : TPOT_BUCKETS;
      for (const le of [...buckets.map(String), "+Inf"]) names.push({ name: `${name}_bucket`, le });
      names.push({ name: `${name}_sum` }, { name: `${name}_count` });
    }
    for (const [col, { name, le }] of names.entries()) {
      const labels: Record<string, string> = { __name__: name, ...base };
      if (le !== undefined) labels.le = le;
      series.push({ labels, samples: times.map((t, i) => [t, points[i][col]] as const) });
      sampleCount += times.length;
    }
  }

  return {
    series,
    targets,
    projects,
    models,
    startMs,
    endMs,
    events: {
      reset: { target: resetTarget, atMs: resetFirstSample },
      gap: { target: gapTarget, fromMs: gapFrom, toMs: gapTo },
      deployed: { project: p0, model: deployedModel, atMs: deployAt },
      idle,
    },
    sampleCount,
  };
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Go's float format for a sample value, which Prometheus's parsers read back exactly. */
function formatSampleValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

function seriesKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .filter((k) => k !== "__name__")
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(",");
}

/** The metric family a sample name belongs to, with its type. */
function family(name: string): { family: string; type: "counter" | "histogram" | "unknown" } {
  for (const h of HISTOGRAMS) {
    if (name === `${h}_bucket` || name === `${h}_sum` || name === `${h}_count`) {
      return { family: h, type: "histogram" };
    }
  }
  return (COUNTERS as readonly string[]).includes(name)
    ? { family: name, type: "counter" }
    : { family: name, type: "unknown" };
}

/**
 * The series as an OpenMetrics text file: families sorted by name, each with its `# TYPE` line,
 * its series sorted by labels (histogram buckets by `le`, then `_count` and `_sum`), every series'
 * samples together in time order with ms-precision timestamps, and the closing `# EOF`.
 *
 * The counters keep the seed's names (without OpenMetrics' `_total`): Prometheus's importer takes
 * sample names as written, and these are the names the service stores.
 */
export function toOpenMetrics(series: readonly SampleSeries[]): string {
  const byFamily = new Map<string, { type: string; series: SampleSeries[] }>();
  for (const s of series) {
    const f = family(s.labels.__name__);
    const entry = byFamily.get(f.family) ?? { type: f.type, series: [] };
    byFamily.set(f.family, entry);
    entry.series.push(s);
  }
  const suffixOrder = (name: string) => (name.endsWith("_bucket") ? 0 : name.endsWith("_count") ? 1 : 2);
  const leOrder = (s: SampleSeries) => (s.labels.le === undefined ? 0 : Number(s.labels.le));
  const out: string[] = [];
  for (const name of [...byFamily.keys()].sort()) {
    const entry = byFamily.get(name)!;
    out.push(`# TYPE ${name} ${entry.type}`);
    const sorted = [...entry.series].sort((a, b) => {
      const ka = seriesKey({ ...a.labels, le: "" });
      const kb = seriesKey({ ...b.labels, le: "" });
      if (ka !== kb) return ka < kb ? -1 : 1;
      const sa = suffixOrder(a.labels.__name__);
      const sb = suffixOrder(b.labels.__name__);
      return sa !== sb ? sa - sb : leOrder(a) - leOrder(b);
    });
    for (const s of sorted) {
      const labels = Object.keys(s.labels)
        .filter((k) => k !== "__name__")
        .sort()
        .map((k) => `${k}="${escapeLabelValue(s.labels[k])}"`)
        .join(",");
      const prefix = `${s.labels.__name__}{${labels}} `;
      for (const [t, v] of s.samples) {
        out.push(`${prefix}${formatSampleValue(v)} ${formatTimestampSeconds(t)}`);
      }
    }
  }
  out.push("# EOF", "");
  return out.join("\n");
}
