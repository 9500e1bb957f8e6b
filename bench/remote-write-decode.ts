/**
 * Remote-write decode throughput: node --import tsx bench/remote-write-decode.ts
 *
 * Two payloads shaped like what Prometheus sends for an inference fleet (labels __name__, job,
 * instance, project_id, model_name, service_tier, le): 2,000 series × 1 sample (a typical shard
 * send) and 500 series × 10 samples (a sender catching up). For each: snappy alone, the decoder
 * with and without string interning, the whole body (snappy + decode), the same plus the
 * normalizeLabels the store's appender needs, and protobufjs's generic decoder as a baseline.
 * Prints samples/s (median of 7 rounds of ~0.3 s of CPU time each).
 * "snappy only" can read above "snappy + decode": its loop does nothing but allocate ~0.5 MB
 * buffers, and until glibc's mmap threshold adapts each one is a fresh mapping paid in page faults.
 */
import protobuf from "protobufjs";
import { compressSync } from "snappy";
import {
  decodeRemoteWrite,
  decodeWriteRequest,
  decompressSnappy,
  encodeWriteRequest,
  type TimeSeriesInput,
  type WriteRequestVisitor,
} from "../src/ingest/remote-write/index.js";
import { type Label, normalizeLabels } from "../src/storage/labels.js";

const PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
`;
const WriteRequestPb = protobuf.parse(PROTO).root.lookupType("prometheus.WriteRequest");

const LE = ["0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "+Inf"];
const MODELS = ["llama-3.1-8b-instruct", "llama-3.3-70b-instruct", "qwen2.5-32b", "deepseek-r1-distill"];

function fleet(series: number, samplesPerSeries: number): TimeSeriesInput[] {
  const out: TimeSeriesInput[] = [];
  const t0 = 1_767_225_600_000;
  for (let i = 0; i < series; i++) {
    const bucket = i % LE.length;
    const target = Math.floor(i / LE.length);
    const labels: Label[] = [
      { name: "__name__", value: "crusoe_inference_first_token_latency_seconds_bucket" },
      { name: "instance", value: `10.20.${(target >> 8) & 255}.${target & 255}:8000` },
      { name: "job", value: "vllm" },
      { name: "le", value: LE[bucket] },
      { name: "model_name", value: MODELS[target % MODELS.length] },
      { name: "project_id", value: `proj-${(target % 37).toString(16).padStart(8, "0")}` },
      { name: "service_tier", value: target % 3 === 0 ? "priority" : "standard" },
    ];
    const samples = [];
    for (let s = 0; s < samplesPerSeries; s++) {
      samples.push({ value: Math.floor(Math.random() * 1e6), timestamp: t0 + s * 15_000 + (i % 1000) });
    }
    out.push({ labels, samples });
  }
  return out;
}

/** Touches every sample so nothing is optimised away. */
class Summer implements WriteRequestVisitor {
  sum = 0;
  series(labels: Label[]): void {
    this.sum += labels.length;
  }
  samples(ts: Float64Array, vs: Float64Array, count: number): void {
    for (let i = 0; i < count; i++) this.sum += vs[i] + ts[i] * 1e-12;
  }
}

/** What the receiver does per series before appending: validate, sort, drop empty values. */
class Normalizer extends Summer {
  override series(labels: Label[]): void {
    this.sum += normalizeLabels(labels).length;
  }
}

/** This process's CPU seconds: steadier than wall time on a shared machine (all the work here is synchronous). */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function measure(fn: () => void): number {
  // Warm up for 0.5 s of CPU: process CPU time counts the JIT's background threads too.
  const warm = cpuSeconds();
  while (cpuSeconds() - warm < 0.5) fn();
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    let n = 0;
    const start = cpuSeconds();
    let elapsed = 0;
    do {
      fn();
      n++;
      elapsed = cpuSeconds() - start;
    } while (elapsed < 0.3);
    rounds.push(elapsed / n);
  }
  rounds.sort((a, b) => a - b);
  return rounds[3]; // seconds per call, median
}

const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 0 });

for (const [series, perSeries] of [
  [2_000, 1],
  [500, 10],
] as const) {
  const ts = fleet(series, perSeries);
  const raw = encodeWriteRequest({ timeseries: ts });
  const body = compressSync(raw);
  const samples = series * perSeries;
  console.log(
    `\n${series} series × ${perSeries} sample(s) = ${samples} samples; protobuf ${fmt(raw.length)} B, snappy ${fmt(body.length)} B`,
  );
  const rows: [string, () => void][] = [
    ["snappy only", () => decompressSnappy(body)],
    ["decode, cached labels", () => decodeWriteRequest(raw, new Summer())],
    ["decode, no cache (TextDecoder)", () => decodeWriteRequest(raw, new Summer(), { cache: null })],
    ["snappy + decode", () => decodeRemoteWrite(body, new Summer())],
    ["snappy + decode + normalizeLabels", () => decodeRemoteWrite(body, new Normalizer())],
    ["protobufjs decode (baseline)", () => WriteRequestPb.decode(raw)],
  ];
  for (const [name, fn] of rows) {
    const s = measure(fn);
    console.log(
      `  ${name.padEnd(36)} ${(s * 1e6).toFixed(0).padStart(7)} µs/request  ${fmt(samples / s).padStart(12)} samples/s  ${fmt(series / s).padStart(11)} series/s`,
    );
  }
}
