/**
 * Remote-write payloads for the benchmarks, and their sender: a fleet's scrapes as Prometheus
 * remote-write 1.0 requests (snappy protobuf), sharded by series as Prometheus's queue manager
 * does (a series always goes through the same shard, so each series' samples arrive in time
 * order), sent shard by shard with the shards in parallel.
 *
 * The encoder is a fast path of src/ingest/remote-write/encode.ts for the one shape the benchmarks
 * send (one sample per series per request): each series' labels are encoded once, a request is
 * written into one reused buffer. Its bytes are encodeWriteRequest's (test/bench/payloads.test.ts).
 * encodeRemoteWriteBody takes ~10 µs a sample, which for the ~120 M samples of bench:compare would
 * be twenty minutes of encoding.
 */
import http from "node:http";
import { compressSync } from "snappy";
import type { Labels } from "../src/storage/index.js";

/** Concurrent senders (and requests in flight): SHARDS, default 4. */
export const SHARDS = Number(process.env.SHARDS ?? 4);
/** Samples per request: a shard's slice of one scrape, cut at this many. */
export const SAMPLES_PER_REQUEST = 2_000;

export interface Payloads {
  /** Per shard, its requests in time order. */
  shards: Uint8Array[][];
  samples: number;
  series: number;
}

const utf8 = new TextEncoder();

function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function putVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** The Label messages of a TimeSeries (field 1, repeated), as protobuf bytes. */
function encodeLabels(labels: Labels): Uint8Array {
  const encoded = labels.map((l) => [utf8.encode(l.name), utf8.encode(l.value)]);
  // proto3 omits empty strings.
  const field = (b: Uint8Array) => (b.length === 0 ? 0 : 1 + varintLength(b.length) + b.length);
  const sizes = encoded.map(([n, v]) => field(n) + field(v));
  const out = new Uint8Array(sizes.reduce((a, n) => a + 1 + varintLength(n) + n, 0));
  let at = 0;
  encoded.forEach(([name, value], k) => {
    out[at++] = 0x0a;
    at = putVarint(out, at, sizes[k]);
    for (const [tag, b] of [
      [0x0a, name],
      [0x12, value],
    ] as const) {
      if (b.length === 0) continue;
      out[at++] = tag;
      at = putVarint(out, at, b.length);
      out.set(b, at);
      at += b.length;
    }
  });
  return out;
}

/** Collects scrapes of a fixed set of series into sharded, encoded requests. */
export class PayloadBuilder {
  private readonly labelBytes: Uint8Array[];
  private readonly shards: Uint8Array[][];
  private buf: Uint8Array;
  private len = 0;
  private readonly f64 = new Float64Array(1);
  private readonly f64bytes = new Uint8Array(this.f64.buffer);
  samples = 0;
  /** Compressed bytes so far. */
  bytes = 0;

  constructor(
    labels: readonly Labels[],
    private readonly shardCount = SHARDS,
    private readonly perRequest = SAMPLES_PER_REQUEST,
  ) {
    this.labelBytes = labels.map(encodeLabels);
    this.shards = Array.from({ length: shardCount }, () => []);
    this.buf = new Uint8Array(1 << 20);
  }

  get series(): number {
    return this.labelBytes.length;
  }

  private varint(v: number): void {
    this.len = putVarint(this.buf, this.len, v);
  }

  /** Appends TimeSeries{labels of series i, one sample} to the current request. */
  private put(i: number, t: number, value: number): void {
    if (!Number.isSafeInteger(t) || t < 0) throw new Error(`timestamp ${t}: a non-negative safe integer`);
    const labels = this.labelBytes[i];
    // proto3 omits zero values; -0 is not zero bit-wise, so it is written.
    const hasValue = value !== 0 || Object.is(value, -0);
    const sampleLen = (hasValue ? 9 : 0) + (t !== 0 ? 1 + varintLength(t) : 0);
    const bodyLen = labels.length + 1 + varintLength(sampleLen) + sampleLen;
    const need = this.len + 1 + varintLength(bodyLen) + bodyLen;
    if (need > this.buf.length) {
      const next = new Uint8Array(Math.max(need, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf[this.len++] = 0x0a;
    this.varint(bodyLen);
    this.buf.set(labels, this.len);
    this.len += labels.length;
    this.buf[this.len++] = 0x12;
    this.varint(sampleLen);
    if (hasValue) {
      this.buf[this.len++] = 0x09;
      this.f64[0] = value;
      this.buf.set(this.f64bytes, this.len);
      this.len += 8;
    }
    if (t !== 0) {
      this.buf[this.len++] = 0x10;
      this.varint(t);
    }
  }

  private flush(shard: number, samples: number): void {
    if (samples === 0) return;
    // copyOutputData: a JS buffer of the exact size; without it the Buffer wraps Rust's output
    // vector, whose capacity is the worst-case compressed size (~12× a fleet request's), out of
    // sight of V8 (the medium fleet took 24 GB).
    const body = compressSync(Buffer.from(this.buf.buffer, this.buf.byteOffset, this.len), {
      copyOutputData: true,
    });
    this.shards[shard].push(body);
    this.bytes += body.length;
    this.samples += samples;
    this.len = 0;
  }

  /**
   * One scrape: series i's sample at `t` (or `t[i]`) with value `values[i]`. Series i goes through
   * shard i % shards; each shard's slice is cut into requests of at most `perRequest` samples, in
   * series order.
   */
  addScrape(t: number | ArrayLike<number>, values: ArrayLike<number>): void {
    const n = this.labelBytes.length;
    for (let shard = 0; shard < this.shardCount; shard++) {
      let inRequest = 0;
      for (let i = shard; i < n; i += this.shardCount) {
        this.put(i, typeof t === "number" ? t : t[i], values[i]);
        if (++inRequest === this.perRequest) {
          this.flush(shard, inRequest);
          inRequest = 0;
        }
      }
      this.flush(shard, inRequest);
    }
  }

  payloads(): Payloads {
    return { shards: this.shards, samples: this.samples, series: this.labelBytes.length };
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: SHARDS * 2 });

function post(url: URL, body: Uint8Array, token?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "Content-Type": "application/x-protobuf",
          "Content-Encoding": "snappy",
          "X-Prometheus-Remote-Write-Version": "0.1.0",
          "Content-Length": body.length,
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8", 0, 300) }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * How many requests a shard may run ahead of the slowest one. Prometheus's shards read one queue
 * fed in time order, so they stay close in data time; shards running free drift apart by hours of
 * data in a replay this fast, and an engine that bounds how far behind its newest sample it takes
 * samples (Prometheus: an hour; the product: half a block) then refuses the laggard.
 */
export const MAX_SHARD_LEAD = 16;

/**
 * Sends every shard's requests in order, shards in parallel (one request in flight per shard, none
 * more than MAX_SHARD_LEAD requests ahead of the slowest); returns the seconds until the last
 * acknowledgement. Throws if any request was not answered 2xx.
 */
export async function send(p: Payloads, url: string, token?: string): Promise<number> {
  const target = new URL(url);
  const started = performance.now();
  let failed = 0;
  let first = "";
  const done = p.shards.map(() => 0);
  let waiting: (() => void)[] = [];
  const slowest = () => {
    let min = Number.POSITIVE_INFINITY;
    for (let i = 0; i < done.length; i++) if (done[i] < p.shards[i].length && done[i] < min) min = done[i];
    return min;
  };
  await Promise.all(
    p.shards.map(async (requests, shard) => {
      for (let k = 0; k < requests.length; k++) {
        while (k - slowest() > MAX_SHARD_LEAD) await new Promise<void>((resolve) => waiting.push(resolve));
        const { status, text } = await post(target, requests[k], token);
        if (status < 200 || status >= 300) {
          if (failed++ === 0) first = `HTTP ${status} ${text}`;
        }
        done[shard] = k + 1;
        const wake = waiting;
        waiting = [];
        for (const w of wake) w();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  if (failed > 0) throw new Error(`${failed} requests to ${url} failed, the first: ${first}`);
  return seconds;
}

/** Closes the sender's idle keep-alive connections. */
export function closeSenders(): void {
  agent.destroy();
}
