/**
 * A synthetic inference fleet with the seed's metric set: per project × model × service tier,
 * three counters and two classic histograms (20 finite buckets + +Inf, _sum, _count), i.e. 49
 * series per combination, scraped every 15 s. Values evolve like real counters: requests arrive
 * at a per-combination rate (heavy-tailed across combinations, see trafficRate), latencies are
 * lognormal, buckets are cumulative.
 */
import { mulberry32 } from "../src/sim/random.js";
import type { Label, Labels } from "../src/storage/index.js";

export const TTFT_BUCKETS = [
  0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 60,
];
export const TPOT_BUCKETS = [
  0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5,
  0.75, 1, 2,
];
export const SERIES_PER_COMBINATION = 3 + 2 * (TTFT_BUCKETS.length + 1 + 2);
export const SCRAPE_INTERVAL_MS = 15_000;

interface Combination {
  project: string;
  model: string;
  tier: string;
  reqPerSec: number;
  ttftMedian: number;
  tpotMedian: number;
}

export class Fleet {
  readonly labels: Labels[] = [];
  /** Current cumulative value of every series, in `labels` order. */
  readonly values: Float64Array;
  private readonly combos: Combination[] = [];
  private readonly random: () => number;

  constructor(
    projects: number,
    models: number,
    tiers: readonly string[] = ["on_demand", "pt"],
    seed = 1,
    /** Seconds between scrapes: the counters advance by this much traffic per step. */
    readonly intervalSeconds = SCRAPE_INTERVAL_MS / 1000,
  ) {
    this.random = mulberry32(seed); // deterministic, so runs are comparable
    for (let p = 0; p < projects; p++) {
      for (let m = 0; m < models; m++) {
        for (const tier of tiers) {
          const big = m % 3 === 2;
          this.combos.push({
            project: `proj-${p.toString(16).padStart(8, "0")}`,
            model: big ? `meta-llama/Llama-3.3-70B-Instruct-v${m}` : `meta-llama/Llama-3.1-8B-Instruct-v${m}`,
            tier,
            reqPerSec: this.trafficRate(),
            ttftMedian: big ? 0.35 : 0.08,
            tpotMedian: big ? 0.045 : 0.012,
          });
        }
      }
    }
    for (const c of this.combos) this.addCombinationSeries(c);
    this.values = new Float64Array(this.labels.length);
  }

  /**
   * Requests per second of one project × model × tier. Multi-tenant traffic is heavy-tailed: a
   * quarter of the combinations are idle (a tier or model the project does not use right now),
   * the rest lognormal around 0.3 req/s with a tail of busy ones, capped at 200 req/s.
   */
  private trafficRate(): number {
    if (this.random() < 0.25) return 0;
    const u = Math.max(this.random(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
    return Math.min(200, 0.3 * Math.exp(1.5 * z));
  }

  get seriesCount(): number {
    return this.labels.length;
  }

  private addCombinationSeries(c: Combination): void {
    const base: Label[] = [
      { name: "model_name", value: c.model },
      { name: "project_id", value: c.project },
      { name: "service_tier", value: c.tier },
    ];
    const series = (name: string, extra: Label[] = []): Labels =>
      [{ name: "__name__", value: name }, ...extra, ...base].sort((a, b) => (a.name < b.name ? -1 : 1));
    this.labels.push(series("crusoe_inference_request_count"));
    this.labels.push(series("crusoe_inference_input_token_count"));
    this.labels.push(series("crusoe_inference_output_token_count"));
    for (const [h, buckets] of [
      ["first_token", TTFT_BUCKETS],
      ["output_token", TPOT_BUCKETS],
    ] as const) {
      const name = `crusoe_inference_histogram_${h}_latency`;
      for (const le of [...buckets.map(String), "+Inf"]) {
        this.labels.push(series(`${name}_bucket`, [{ name: "le", value: le }]));
      }
      this.labels.push(series(`${name}_sum`));
      this.labels.push(series(`${name}_count`));
    }
  }

  private lognormal(median: number): number {
    // Box-Muller; sigma 0.6 gives a realistic right tail.
    const u = Math.max(this.random(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
    return median * Math.exp(0.6 * z);
  }

  /** Advances every series by one scrape interval. */
  step(): void {
    const v = this.values;
    const seconds = this.intervalSeconds;
    let k = 0;
    for (const c of this.combos) {
      const requests = Math.round(c.reqPerSec * seconds * (0.5 + this.random()));
      const input = requests * Math.round(200 + this.random() * 800);
      const output = requests * Math.round(50 + this.random() * 300);
      v[k++] += requests;
      v[k++] += input;
      v[k++] += output;
      for (const [median, buckets] of [
        [c.ttftMedian, TTFT_BUCKETS],
        [c.tpotMedian, TPOT_BUCKETS],
      ] as const) {
        // Sample a handful of latencies and scale, to keep generation cheap.
        const samples = Math.min(requests, 8);
        const counts = new Float64Array(buckets.length + 1);
        let sum = 0;
        for (let i = 0; i < samples; i++) {
          const x = this.lognormal(median);
          sum += x;
          let b = 0;
          while (b < buckets.length && x > buckets[b]) b++;
          counts[b]++;
        }
        const scale = samples ? requests / samples : 0;
        let cumulative = 0;
        for (let b = 0; b <= buckets.length; b++) {
          cumulative += Math.round(counts[b] * scale);
          v[k + b] += cumulative;
        }
        k += buckets.length + 1;
        v[k++] += sum * scale;
        v[k++] += cumulative;
      }
    }
  }
}
