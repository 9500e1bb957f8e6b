/**
 * The gateway's counters in a real store, read back with PromQL: the page's queries, a gateway
 * restart between flushes (a counter reset) that `increase()`/`rate()` must see through exactly,
 * the final flush and stale markers on close, and the flush timer.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startGateway } from "../../src/gateway/proxy.js";
import { newEngine } from "../../src/promql/engine.js";
import type { QueryResult } from "../../src/promql/value.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { tempDir } from "../tsdb/helpers.js";
import { configFor, KEY_A } from "./harness.js";
import { type MockUpstream, request, sleep, startMockUpstream } from "./mock-upstream.js";

const engine = newEngine();
const T = Math.floor(Date.now() / 60_000) * 60_000;

function scalarOf(r: QueryResult): number[] {
  assert.equal(r.value.type, "vector");
  if (r.value.type !== "vector") return [];
  return r.value.samples.map((s) => s.v);
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(2);
  }
}

const body = (stream: boolean) => ({
  model: "small-8b",
  messages: [{ role: "user", content: "hi" }],
  stream,
});

describe("gateway flush into the store", () => {
  let mock: MockUpstream;
  let dir: string;
  let cleanup: () => void;
  before(async () => {
    mock = await startMockUpstream({ tokens: 4, promptTokens: 10, ttftMs: 110, tpotMs: 32 });
    ({ dir, cleanup } = tempDir("mim-gwflush-"));
  });
  after(async () => {
    await mock.close();
    cleanup();
  });

  /** Sends n requests (alternating streamed and not) and waits until the meter has them all. */
  async function send(gw: Awaited<ReturnType<typeof startGateway>>, n: number): Promise<void> {
    const before = gw.meter.read("proj-a", "small-8b", "on_demand")?.requests ?? 0;
    const rs = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        request(`${gw.url}/v1/chat/completions`, { body: body(i % 2 === 0), key: KEY_A }),
      ),
    );
    for (const r of rs) assert.equal(r.status, 200);
    await until(() => (gw.meter.read("proj-a", "small-8b", "on_demand")?.requests ?? 0) === before + n);
  }

  it("writes scrape-like samples that answer the page's queries", async () => {
    const db = Tsdb.open({ dir: `${dir}/page`, maintenanceIntervalMs: 0 });
    let clock = T;
    const gw = await startGateway({
      config: configFor(mock.base),
      appendable: db,
      now: () => clock,
      flushIntervalMs: 0,
    });
    try {
      clock = T + 1000;
      await send(gw, 6);
      clock = T + 15_000;
      assert.equal(gw.flush().error, undefined);
      await send(gw, 6);
      clock = T + 30_000;
      const f = gw.flush();
      assert.equal(f.t, T + 30_000);
      assert.ok(f.samples > 60);
      const at = T + 30_000;
      const sel = '{project_id="proj-a", model_name="small-8b"}';
      const page = (m: string) => `sum by (model_name) ( rate( ${m}${sel}[300s] ) )`;
      const near = (got: number, want: number) => assert.ok(Math.abs(got - want) < 1e-9, `${got} != ${want}`);
      near(scalarOf(engine.instantQuery(db, page("crusoe_inference_request_count"), at))[0], 12 / 300);
      near(scalarOf(engine.instantQuery(db, page("crusoe_inference_input_token_count"), at))[0], 120 / 300);
      near(scalarOf(engine.instantQuery(db, page("crusoe_inference_output_token_count"), at))[0], 48 / 300);
      // Six streamed requests, each with TTFT ≈ 110 ms and TPOT ≈ 32 ms on real timers: what is
      // checked here is that the flushed buckets answer the page's quantile queries, so the bounds
      // are the mock's delays below and 10× above (a loaded machine only adds time). The exact
      // measurement is test/gateway/latency.test.ts's, on a clock the test drives.
      const ttft = scalarOf(
        engine.instantQuery(
          db,
          `histogram_quantile( 0.5, sum by (model_name, le) ( irate( crusoe_inference_histogram_first_token_latency_bucket${sel}[300s] ) ) )`,
          at,
        ),
      );
      assert.ok(ttft[0] > 0.1 && ttft[0] <= 1.1, `TTFT median ${ttft[0]}`);
      const tpot = scalarOf(
        engine.instantQuery(
          db,
          `histogram_quantile( 0.5, sum by (model_name, le) ( irate( crusoe_inference_histogram_output_token_latency_bucket${sel}[300s] ) ) )`,
          at,
        ),
      );
      assert.ok(tpot[0] > 0.028 && tpot[0] < 0.32, `TPOT median ${tpot[0]}`);
      // Every series carries the three product labels and one sample per flush (plus the creation 0).
      const counts = engine.instantQuery(
        db,
        'count_over_time(crusoe_inference_request_count{project_id="proj-a"}[1h])',
        at,
      );
      assert.deepEqual(scalarOf(counts), [3]);
      const tiers = engine.instantQuery(
        db,
        "count by (service_tier) (crusoe_inference_histogram_first_token_latency_bucket)",
        at,
      );
      assert.equal(tiers.value.type === "vector" && tiers.value.samples[0].metric[0].value, "on_demand");
    } finally {
      await gw.close();
      db.close();
    }
  });

  it("survives a gateway restart between flushes: increase() and rate() equal the true totals", async () => {
    const path = `${dir}/restart`;
    let clock = T;
    const start = (db: Tsdb) =>
      startGateway({ config: configFor(mock.base), appendable: db, now: () => clock, flushIntervalMs: 0 });

    // First life: 9 requests over three flushes, the last one by close().
    let db = Tsdb.open({ dir: path, maintenanceIntervalMs: 0 });
    let gw = await start(db);
    clock = T + 1000;
    await send(gw, 3);
    clock = T + 15_000;
    gw.flush();
    await send(gw, 4);
    clock = T + 30_000;
    gw.flush();
    await send(gw, 2);
    clock = T + 40_000;
    await gw.close(); // final flush at T+40s, stale markers at T+40.001s
    db.close();

    // Series are stale once the gateway is gone.
    db = Tsdb.open({ dir: path, maintenanceIntervalMs: 0 });
    assert.deepEqual(scalarOf(engine.instantQuery(db, "crusoe_inference_request_count", T + 45_000)), []);
    assert.deepEqual(scalarOf(engine.instantQuery(db, "crusoe_inference_request_count", T + 40_000)), [9]);

    // Second life: counters start at 0 again. Its first flush already holds more (12) than the
    // first life's last value (9), which only the creation zero lets PromQL see as a reset.
    clock = T + 50_000;
    gw = await start(db);
    await send(gw, 12);
    clock = T + 60_000;
    gw.flush();
    await send(gw, 2);
    clock = T + 75_000;
    gw.flush();
    try {
      const at = T + 75_000;
      const total = 9 + 14;
      const streamed = 2 + 2 + 1 + 6 + 1; // every other request of each batch, starting with the first
      const near = (q: string, want: number) => {
        const got = scalarOf(engine.instantQuery(db, q, at));
        assert.equal(got.length, 1, q);
        assert.ok(Math.abs(got[0] - want) < 1e-9, `${q}: ${got[0]} != ${want}`);
      };
      near('increase(crusoe_inference_request_count{project_id="proj-a"}[5m])', total);
      near('rate(crusoe_inference_request_count{project_id="proj-a"}[5m]) * 300', total);
      near(
        'sum by (model_name) ( rate( crusoe_inference_request_count{project_id="proj-a", model_name="small-8b"}[300s] ) ) * 300',
        total,
      );
      near("increase(crusoe_inference_input_token_count[5m])", total * 10);
      near("increase(crusoe_inference_output_token_count[5m])", total * 4);
      near("increase(crusoe_inference_histogram_first_token_latency_count[5m])", streamed);
      near('increase(crusoe_inference_histogram_first_token_latency_bucket{le="+Inf"}[5m])', streamed);
      near("resets(crusoe_inference_request_count[5m])", 1);
      // After the restart the instant value is the new process's own count.
      near("crusoe_inference_request_count", 14);
    } finally {
      await gw.close();
      db.close();
    }
  });

  it("flushes on its own every interval", async () => {
    const db = Tsdb.open({ dir: `${dir}/timer`, maintenanceIntervalMs: 0 });
    const gw = await startGateway({ config: configFor(mock.base), appendable: db, flushIntervalMs: 40 });
    try {
      await send(gw, 1);
      await sleep(250);
      const r = engine.instantQuery(db, "count_over_time(crusoe_inference_request_count[1m])", Date.now());
      const n = scalarOf(r)[0];
      assert.ok(n >= 3, `samples written by the timer: ${n}`);
    } finally {
      await gw.close();
      db.close();
    }
  });
});
