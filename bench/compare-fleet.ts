/**
 * The fleets of `npm run bench:compare`: bench/fleet.ts's synthetic fleet (the seed's metric set
 * per project × model × tier, 49 series each) as a set of scrape targets, one per combination,
 * encoded once into remote-write requests (bench/payloads.ts) that every engine is sent as is.
 *
 * Like a real Prometheus's scrapes (2.30 and later align the few milliseconds of scheduling jitter
 * away): every target has a fixed offset in the 15 s interval, never on a whole second, that all
 * its series' samples share; targets restart now and then (on average every RESET_EVERY_H hours,
 * and the page's first target once half-way through), which resets all their counters to what they
 * counted since the last scrape. The counters start with WARM_SCRAPES of history, as a fleet that
 * was running before the span began. Scrapes are sent in time order, the series of one scrape in
 * the order of their timestamps.
 *
 * The samples are never on a whole second and the benchmark's query times always are, so
 * Prometheus 2.42's closed range boundaries and 3.x's left-open ones select the same samples; the
 * warm start keeps rate()'s extrapolation at a series' first window out of the one case where
 * 2.42 and 3.x differ (a counter whose zero point lies inside the window, see
 * test/api/prometheus-equality.test.ts).
 */
import { mulberry32 } from "../src/sim/random.js";
import type { Labels } from "../src/storage/index.js";
import { Fleet, SCRAPE_INTERVAL_MS, SERIES_PER_COMBINATION } from "./fleet.js";
import { PayloadBuilder, type Payloads, SHARDS } from "./payloads.js";

export interface CompareFleetSpec {
  name: string;
  projects: number;
  models: number;
  hours: number;
}

export const FLEET_SPECS: Readonly<Record<string, CompareFleetSpec>> = {
  tiny: { name: "tiny", projects: 2, models: 2, hours: 1 },
  small: { name: "small", projects: 10, models: 5, hours: 24 },
  medium: { name: "medium", projects: 200, models: 10, hours: 2 },
};

export const TIERS = ["on_demand", "pt"] as const;
/** Mean hours between a target's restarts. */
export const RESET_EVERY_H = 6;
/** Scrapes the counters have run before the first one sent. */
export const WARM_SCRAPES = 40;

export interface CompareFleet {
  spec: CompareFleetSpec;
  /** Scrape targets (project × model × tier). */
  targets: number;
  series: number;
  scrapes: number;
  samples: number;
  /** First and last sample time (ms). */
  firstMs: number;
  lastMs: number;
  /** Target restarts inside the span. */
  resets: number;
  /** The page's project (the first one). */
  project: string;
  /** The series in the order they are sent (by their target's offset). */
  labels: Labels[];
  /** Each series' offset in the interval (ms), in `labels` order. */
  offsets: Float64Array;
  payloads: Payloads;
  /** Requests and their compressed bytes. */
  requests: number;
  bytes: number;
}

/**
 * Builds the fleet's requests. `gridEndMs` (a multiple of 15 s) is where the last scrape's
 * interval begins: every sample is before `gridEndMs + 15 s`. Deterministic for a spec and seed,
 * apart from where the grid is.
 */
export function buildCompareFleet(
  spec: CompareFleetSpec,
  gridEndMs: number,
  seed = 1,
  shards = SHARDS,
): CompareFleet {
  if (gridEndMs % SCRAPE_INTERVAL_MS !== 0) throw new Error("gridEndMs must be a multiple of 15 s");
  const fleet = new Fleet(spec.projects, spec.models, TIERS, seed);
  const n = fleet.seriesCount;
  const targets = n / SERIES_PER_COMBINATION;
  const scrapes = (spec.hours * 3_600_000) / SCRAPE_INTERVAL_MS;
  const random = mulberry32(seed * 7919 + 17); // apart from the fleet's own stream
  // 100..14,899 ms: never a whole second.
  const targetOffset = Array.from(
    { length: targets },
    () => Math.floor(random() * 15) * 1000 + 100 + Math.floor(random() * 800),
  );
  const targetOf = (i: number) => Math.floor(i / SERIES_PER_COMBINATION);
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => targetOffset[targetOf(a)] - targetOffset[targetOf(b)] || a - b,
  );
  const labels = order.map((i) => fleet.labels[i]);
  const offsets = Float64Array.from(order, (i) => targetOffset[targetOf(i)]);
  const builder = new PayloadBuilder(labels, shards);

  for (let w = 0; w < WARM_SCRAPES; w++) fleet.step();
  const startMs = gridEndMs - (scrapes - 1) * SCRAPE_INTERVAL_MS;
  const resetP = SCRAPE_INTERVAL_MS / (RESET_EVERY_H * 3_600_000);
  const forcedReset = Math.floor(scrapes / 2); // target 0: the page's project, first model
  /** What each series counted up to its target's last restart. */
  const base = new Float64Array(n);
  const times = new Float64Array(n);
  const values = new Float64Array(n);
  let resets = 0;
  for (let s = 0; s < scrapes; s++) {
    for (let c = 0; c < targets; c++) {
      const dice = random() < resetP;
      if (dice || (c === 0 && s === forcedReset)) {
        // The target restarted since the last scrape: its counters start again from zero, and
        // this scrape sees what they counted since.
        for (let i = c * SERIES_PER_COMBINATION; i < (c + 1) * SERIES_PER_COMBINATION; i++)
          base[i] = fleet.values[i];
        resets++;
      }
    }
    fleet.step();
    const t = startMs + s * SCRAPE_INTERVAL_MS;
    for (let j = 0; j < n; j++) {
      const i = order[j];
      times[j] = t + offsets[j];
      values[j] = fleet.values[i] - base[i];
    }
    builder.addScrape(times, values);
  }
  const payloads = builder.payloads();
  return {
    spec,
    targets,
    series: n,
    scrapes,
    samples: payloads.samples,
    firstMs: startMs + offsets[0],
    lastMs: gridEndMs + offsets[n - 1],
    resets,
    project: fleet.labels[0].find((l) => l.name === "project_id")?.value ?? "",
    labels,
    offsets,
    payloads,
    requests: payloads.shards.reduce((a, r) => a + r.length, 0),
    bytes: builder.bytes,
  };
}
