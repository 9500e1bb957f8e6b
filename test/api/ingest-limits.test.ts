/**
 * The tenant limits on remote-write, in-process: samples too far in the future, over-long label
 * names and values, too many labels and new series past a project's active-series cap are refused
 * with 400 naming the first refused sample and the limit, while the rest of the request is stored;
 * each refusal is counted by reason. Guessing ingest tokens is held to the same per-address limit
 * as the query API's.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ApiLimits } from "../../src/api/context.js";
import { encodeRemoteWriteBody, type TimeSeriesInput } from "../../src/ingest/remote-write/index.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { type InjectService, startInjectService, T0 } from "./inject-harness.js";

const MIN = 60_000;

interface Service extends InjectService {
  /** The ingest token every write below uses unless it names another. */
  ingest: string;
}

async function start(limits: Partial<ApiLimits> = {}): Promise<Service> {
  const s = await startInjectService({ limits, writable: true });
  return Object.assign(s, { ingest: s.ingestToken() });
}

const series = (labels: Record<string, string>, samples: Array<[number, number]>): TimeSeriesInput => ({
  labels: labelsFromObject(labels),
  samples: samples.map(([timestamp, value]) => ({ timestamp, value })),
});

const metric = (project: string, extra: Record<string, string> = {}) => ({
  __name__: "tenant_metric",
  project_id: project,
  ...extra,
});

async function write(s: Service, ts: TimeSeriesInput[], o: { token?: string; from?: string } = {}) {
  const res = await s.app.inject({
    method: "POST",
    url: "/api/v1/write",
    remoteAddress: o.from ?? "192.0.2.1",
    headers: {
      authorization: `Bearer ${o.token ?? s.ingest}`,
      "content-type": "application/x-protobuf",
      "content-encoding": "snappy",
    },
    payload: Buffer.from(encodeRemoteWriteBody({ timeseries: ts })),
  });
  const json = res.body === "" ? {} : (JSON.parse(res.body) as Record<string, string>);
  return { status: res.statusCode, headers: res.headers, text: res.body, json };
}

async function query(s: Service, project: string, q: string, at: number): Promise<Record<string, string>> {
  const a = await s.request({
    url: `${s.base(project)}/api/v1/query?query=${encodeURIComponent(q)}&time=${at / 1000}`,
    token: s.token(project),
  });
  assert.equal(a.status, 200, a.text);
  const data = a.json.data as { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
  return Object.fromEntries(data.result.map((r) => [JSON.stringify(r.metric), r.value[1]]));
}

async function refusedCount(s: Service, reason: string): Promise<number> {
  const res = await s.app.inject({ url: "/metrics" });
  const m = new RegExp(`^mim_ingest_refused_samples_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(
    res.body,
  );
  return m ? Number(m[1]) : 0;
}

function assertRefused(a: Awaited<ReturnType<typeof write>>, pattern: RegExp): void {
  assert.equal(a.status, 400, a.text);
  assert.equal(a.json.status, "error");
  assert.equal(a.json.errorType, "bad_data");
  assert.match(a.json.error, pattern);
}

describe("remote-write tenant limits", () => {
  let s: Service;
  before(async () => {
    s = await start();
  });
  after(async () => {
    await s.close();
  });

  it("refuses samples more than 10 minutes ahead of the server's clock and stores the rest", async () => {
    const a = await write(s, [
      series(metric("alpha", { k: "future" }), [
        [T0 - MIN, 1],
        [T0 + 9 * MIN, 2],
        [T0 + 365 * 24 * 60 * MIN, 3],
      ]),
      series(metric("alpha", { k: "now" }), [[T0, 4]]),
    ]);
    assertRefused(
      a,
      /stored 3 samples, rejected 1: sample at 2024-11-13T22:13:20\.000Z .* is 1y ahead of the server's clock; the limit is 10m \(--ingest-max-future\)/,
    );
    assert.equal(await refusedCount(s, "too_far_in_future"), 1);
    s.clock.t = T0 + 9 * MIN;
    const got = await query(s, "alpha", "tenant_metric", T0 + 9 * MIN);
    assert.equal(got[JSON.stringify({ __name__: "tenant_metric", k: "future", project_id: "alpha" })], "2");
  });

  it("refuses a label value past 2048 characters, and a 15 MB one without echoing it", async () => {
    const ok = await write(s, [series(metric("alpha", { v: "x".repeat(2048) }), [[T0, 1]])]);
    assert.equal(ok.status, 204, ok.text);
    const long = await write(s, [series(metric("alpha", { v: "y".repeat(2049) }), [[T0, 1]])]);
    assertRefused(
      long,
      /value of label "v" .* is 2049 characters long; the limit is 2048 \(--ingest-max-label-value-length\)/,
    );
    const huge = await write(s, [
      series(metric("alpha", { v: "z".repeat(15 << 20) }), [[T0, 1]]),
      series(metric("alpha", { v: "small" }), [[T0, 7]]),
    ]);
    assertRefused(huge, /stored 1 samples, rejected 1: .* is 15728640 characters long/);
    assert.ok(huge.text.length < 1000, `the answer quotes ${huge.text.length} characters`);
    assert.equal(await refusedCount(s, "label_value_too_long"), 2);
  });

  it("refuses label names past 1024 characters and series with more than 30 labels", async () => {
    const name = await write(s, [series(metric("alpha", { ["n".repeat(1025)]: "v" }), [[T0, 1]])]);
    assertRefused(
      name,
      /label name "n+"… is 1025 characters long; the limit is 1024 \(--ingest-max-label-name-length\)/,
    );
    const extra = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, "v"]));
    const thirty = await write(s, [series(metric("alpha", extra(28)), [[T0, 1]])]);
    assert.equal(thirty.status, 204, thirty.text);
    const many = await write(s, [series(metric("alpha", extra(29)), [[T0, 1]])]);
    assertRefused(many, /has 31 labels; the limit is 30 \(--ingest-max-labels-per-series\)/);
    assert.equal(await refusedCount(s, "label_name_too_long"), 1);
    assert.equal(await refusedCount(s, "too_many_labels"), 1);
  });
});

describe("remote-write active series per project", () => {
  it("refuses new series past the cap, keeps writing the active ones, and frees idle ones", async () => {
    const s = await start({ ingestMaxSeriesPerProject: 3 });
    try {
      const at = (i: number): Array<[number, number]> => [[s.clock.t, i]];
      const first = await write(
        s,
        [0, 1, 2].map((i) => series(metric("alpha", { i: String(i) }), at(i))),
      );
      assert.equal(first.status, 204, first.text);
      s.clock.t += 1000;
      const over = await write(s, [
        series(metric("alpha", { i: "3" }), at(3)),
        series(metric("alpha", { i: "0" }), at(10)),
      ]);
      assertRefused(
        over,
        /stored 1 samples, rejected 1: series .*i="3".* would exceed project "alpha"'s limit of 3 active series \(--ingest-max-series-per-project\)/,
      );
      assert.equal(await refusedCount(s, "series_limit"), 1);
      const other = await write(
        s,
        [0, 1, 2].map((i) => series(metric("beta", { i: String(i) }), at(i))),
      );
      assert.equal(other.status, 204, "another project has its own count");
      const got = await query(s, "alpha", "tenant_metric", s.clock.t);
      assert.equal(Object.keys(got).length, 3);
      assert.equal(got[JSON.stringify({ __name__: "tenant_metric", i: "0", project_id: "alpha" })], "10");

      // Series 1 and 2 go idle for 20 minutes while 0 is written: two new series fit again.
      for (let k = 0; k < 21; k++) {
        s.clock.t += MIN;
        assert.equal((await write(s, [series(metric("alpha", { i: "0" }), at(20 + k))])).status, 204);
      }
      const later = await write(
        s,
        [3, 4].map((i) => series(metric("alpha", { i: String(i) }), at(i))),
      );
      assert.equal(later.status, 204, later.text);
      assert.equal((await write(s, [series(metric("alpha", { i: "5" }), at(5))])).status, 400);
    } finally {
      await s.close();
    }
  });
});

describe("remote-write failed authentications", () => {
  it("answers 429 to an address past its failure limit, a correct token too, and not to others", async () => {
    const s = await start({ authFailuresPerMinute: 10, authFailureBurst: 5 });
    try {
      const sample = [series(metric("alpha"), [[T0, 1]])];
      for (let i = 0; i < 5; i++) {
        const a = await write(s, sample, { token: `mim_ing_guess${i}`, from: "198.51.100.7" });
        assert.equal(a.status, 401, a.text);
      }
      const limited = await write(s, sample, { token: "mim_ing_guess5", from: "198.51.100.7" });
      assert.equal(limited.status, 429, limited.text);
      assert.equal(limited.json.errorType, "too_many_requests");
      assert.ok(Number(limited.headers["retry-after"]) >= 1);
      const correct = await write(s, sample, { from: "198.51.100.7" });
      assert.equal(correct.status, 429, "a correct token from a limited address is refused too");
      const elsewhere = await write(s, sample, { from: "198.51.100.8" });
      assert.equal(elsewhere.status, 204, elsewhere.text);
      s.clock.t += MIN;
      assert.equal((await write(s, sample, { from: "198.51.100.7" })).status, 204, "the bucket refills");
    } finally {
      await s.close();
    }
  });
});
