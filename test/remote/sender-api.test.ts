/**
 * RemoteWriteStorage against our own service (test/api/harness.ts): its write route is a strict
 * remote-write receiver behind an ingest token, so this checks the wire format, auth and the
 * retry/drop rules end to end against code that is not the sender's own.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RemoteWriteStorage } from "../../src/remote/sender/index.js";
import { labelsFromObject, Matcher } from "../../src/storage/index.js";
import { startTestService, type TestService } from "../api/harness.js";

const T0 = 1_700_000_000_000;
const product = (model: string, tier: string) =>
  labelsFromObject({
    __name__: "crusoe_inference_request_count",
    project_id: "acme",
    model_name: model,
    service_tier: tier,
  });

/** Stored points per model_name/service_tier. */
function stored(svc: TestService): Map<string, number[]> {
  const q = svc.db.querier(T0 - 1, T0 + 10_000_000);
  const set = q.select(true, undefined, new Matcher("=", "__name__", "crusoe_inference_request_count"));
  const out = new Map<string, number[]>();
  while (set.next()) {
    const s = set.at();
    const it = s.iterator();
    const ts: number[] = [];
    while (it.next()) ts.push(it.atT());
    const l = Object.fromEntries(s.labels.map((x) => [x.name, x.value]));
    out.set(`${l.model_name}/${l.service_tier}`, ts);
  }
  q.close();
  return out;
}

describe("RemoteWriteStorage → our /api/v1/write", () => {
  let svc: TestService;
  let dir: string;
  before(async () => {
    // A small per-token budget so the route answers 503 + Retry-After part of the time.
    svc = await startTestService({ limits: { remoteWriteSamplesPerSecond: 3_000 } });
    dir = mkdtempSync(join(tmpdir(), "mim-rw-sender-api-"));
  });
  after(async () => {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores every sample in order, riding out the route's 503s; refusals are dropped and counted", async () => {
    const logs: string[] = [];
    const s = new RemoteWriteStorage({
      url: `${svc.url}/api/v1/write`,
      dir,
      bearerToken: svc.ingestToken("acme"),
      batchDeadlineMs: 5,
      minBackoffMs: 10,
      log: (m) => logs.push(m),
    });
    try {
      // A series of another project: the token may not write it, the route answers 400.
      const bad = s.appender();
      bad.append(0, labelsFromObject({ __name__: "x", project_id: "globex" }), T0, 1);
      bad.commit();
      assert.ok(await s.drain(5000));
      assert.equal(s.status().failedSamples, 1);
      assert.match(s.status().lastError?.message ?? "", /^HTTP 400: .*globex/);

      // 8 models × 2 tiers × 500 timestamps = 8,000 samples: over the 3,000/s budget.
      const rounds = 500;
      for (let k = 0; k < rounds; k += 50) {
        const app = s.appender();
        for (let m = 0; m < 8; m++) {
          for (const tier of ["pt", "on_demand"]) {
            const labels = product(`m${m}`, tier);
            let ref = 0;
            for (let j = k; j < k + 50; j++) ref = app.append(ref, labels, T0 + j * 1000, j);
          }
        }
        app.commit();
      }
      assert.ok(await s.drain(15_000), JSON.stringify(s.status()));
      const got = stored(svc);
      const want = Array.from({ length: rounds }, (_, j) => T0 + j * 1000);
      assert.equal(got.size, 16);
      for (const [k, ts] of got) assert.deepEqual(ts, want, k);
      const st = s.status();
      assert.equal(st.sentSamples, 8000);
      assert.ok(st.retries > 0, "the budget made the route answer 503 with Retry-After");
      assert.equal(st.failedSamples, 1);
    } finally {
      await s.close();
    }
  });
});
