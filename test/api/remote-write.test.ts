/**
 * POST /api/v1/write end to end: real snappy + protobuf bodies into the service, read back through
 * the query API; bad bodies and bad series refused with 400 and stored data untouched.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  encodeRemoteWriteBody,
  encodeWriteRequest,
  type TimeSeriesInput,
} from "../../src/ingest/remote-write/index.js";
import { mulberry32 } from "../../src/sim/random.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { ADMIN_KEY, startRouteService, type TestService } from "./harness.js";

const T0 = 1_700_000_000_000;

function series(labels: Record<string, string>, samples: Array<[number, number]>): TimeSeriesInput {
  return {
    labels: labelsFromObject(labels),
    samples: samples.map(([timestamp, value]) => ({ timestamp, value })),
  };
}

const product = (project: string, extra: Record<string, string> = {}) => ({
  __name__: "crusoe_inference_request_count",
  project_id: project,
  model_name: "m",
  service_tier: "pt",
  ...extra,
});

async function write(s: TestService, token: string, body: Uint8Array, headers: Record<string, string> = {}) {
  const res = await s.fetch(`${s.url}/api/v1/write`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/x-protobuf",
      "Content-Encoding": "snappy",
      "X-Prometheus-Remote-Write-Version": "0.1.0",
      ...headers,
    },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? (JSON.parse(text) as Record<string, string>) : {} };
}

async function values(s: TestService, project: string, query: string, at: number): Promise<string[]> {
  const res = await s.fetch(
    `${s.base(project)}/api/v1/query?query=${encodeURIComponent(query)}&time=${at / 1000}`,
    {
      headers: { Authorization: `Bearer ${s.token(project)}` },
    },
  );
  const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } };
  return body.data.result.map((r) => r.value[1]).sort();
}

describe("remote-write receiver", () => {
  let s: TestService;
  before(async () => {
    s = await startRouteService({ limits: { remoteWriteMaxBodyBytes: 4096 } });
  });
  after(() => s.close());

  it("stores a real payload and answers 204", async () => {
    const body = encodeRemoteWriteBody({
      timeseries: [
        series(product("alpha"), [
          [T0, 1],
          [T0 + 15_000, 5],
        ]),
        series(product("alpha", { service_tier: "on_demand" }), [[T0 + 15_000, 7]]),
        series({ __name__: "vllm:num_requests_running", project_id: "alpha" }, [[T0 + 15_000, 3]]),
      ],
    });
    const r = await write(s, s.ingestToken(), body);
    assert.equal(r.status, 204, r.text);
    assert.deepEqual(await values(s, "alpha", "crusoe_inference_request_count", T0 + 20_000), ["5", "7"]);
    assert.deepEqual(await values(s, "alpha", "vllm:num_requests_running", T0 + 20_000), ["3"]);
  });

  it("keeps what is acceptable and answers 400 with counts and the first reason", async () => {
    const body = encodeRemoteWriteBody({
      timeseries: [
        series(product("beta"), [[T0, 10]]),
        series({ __name__: "no_project" }, [[T0, 1]]),
        series(product("beta", { model_name: "" }), [[T0, 1]]),
        series(product("beta", { service_tier: "gold" }), [[T0, 1]]),
      ],
    });
    const r = await write(s, s.ingestToken(), body);
    assert.equal(r.status, 400);
    assert.equal(r.body.errorType, "bad_data");
    assert.match(
      r.body.error,
      /^stored 1 samples, rejected 3: series \{"?__name__"?="no_project"\} has no project_id label$/,
    );
    assert.deepEqual(await values(s, "beta", "crusoe_inference_request_count", T0), ["10"]);
  });

  it("holds a project-bound token to its project", async () => {
    const body = encodeRemoteWriteBody({
      timeseries: [series(product("gamma"), [[T0, 1]]), series(product("delta"), [[T0, 2]])],
    });
    const r = await write(s, s.ingestToken("gamma"), body);
    assert.equal(r.status, 400);
    assert.match(r.body.error, /rejected 1: .*belongs to project "delta"; this token writes only "gamma"/);
    assert.deepEqual(await values(s, "gamma", "crusoe_inference_request_count", T0), ["1"]);
    assert.deepEqual(await values(s, "delta", "crusoe_inference_request_count", T0), []);
  });

  it("reports out-of-order samples and keeps the rest", async () => {
    const r = await write(
      s,
      s.ingestToken(),
      encodeRemoteWriteBody({
        timeseries: [
          series(product("alpha"), [[T0 + 5_000, 2]]),
          series(product("alpha", { model_name: "n" }), [[T0, 4]]),
        ],
      }),
    );
    assert.equal(r.status, 400);
    assert.match(
      r.body.error,
      /^stored 1 samples, rejected 1: out-of-order sample at 1700000005000 of .*newest sample is at 1700000015000$/,
    );
  });

  it("refuses malformed bodies whole, without touching stored data", async () => {
    const before = await values(s, "alpha", "crusoe_inference_request_count", T0 + 20_000);
    const valid = encodeWriteRequest({
      timeseries: [series(product("alpha", { model_name: "x" }), [[T0 + 30_000, 1]])],
    });
    const cases: Array<[string, Uint8Array, Record<string, string>]> = [
      ["not snappy", new TextEncoder().encode("hello world"), {}],
      ["raw protobuf", valid, {}],
      ["truncated", encodeRemoteWriteBody({ timeseries: [] }).subarray(0, 0), {}],
      ["gzip", encodeRemoteWriteBody({ timeseries: [] }), { "Content-Encoding": "gzip" }],
    ];
    for (const [what, body, headers] of cases) {
      const r = await write(s, s.ingestToken(), body, headers);
      assert.equal(r.status, 400, `${what}: ${r.text}`);
      assert.equal(r.body.errorType, "bad_data", what);
    }
    // A valid snappy block holding broken protobuf.
    const { compressSync } = await import("snappy");
    const broken = compressSync(Buffer.from(valid.subarray(0, valid.length - 3)));
    const r = await write(s, s.ingestToken(), broken);
    assert.equal(r.status, 400);
    assert.match(r.body.error, /^cannot decode remote-write body: /);
    assert.deepEqual(await values(s, "alpha", "crusoe_inference_request_count", T0 + 20_000), before);
    assert.deepEqual(await values(s, "alpha", '{model_name="x"}', T0 + 30_000), []);
  });

  it("refuses bodies over the size cap with 413", async () => {
    const rnd = mulberry32(7);
    const big = encodeRemoteWriteBody({
      timeseries: Array.from({ length: 200 }, (_, i) =>
        series(product("alpha", { model_name: `model-${i}-${rnd().toString(36)}` }), [[T0, i]]),
      ),
    });
    assert.ok(big.length > 4096);
    const r = await write(s, s.ingestToken(), big);
    assert.equal(r.status, 413);
    assert.equal(r.body.errorType, "payload_too_large");
  });

  it("authenticates with ingest tokens only, and revocation acts at once", async () => {
    const body = encodeRemoteWriteBody({ timeseries: [series(product("alpha"), [[T0 + 60_000, 9]])] });
    assert.equal((await write(s, s.token("alpha"), body)).status, 401, "a monitoring token cannot write");
    assert.equal((await write(s, ADMIN_KEY, body)).status, 401, "nor the admin key");
    assert.equal((await write(s, "mim_ing_nope", body)).status, 401);
    const created = await s.fetch(`${s.url}/v1alpha5/ingest-tokens`, {
      method: "POST",
      headers: { Authorization: `Bearer ${ADMIN_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "collector", project_id: "alpha" }),
    });
    assert.equal(created.status, 201);
    const t = (await created.json()) as { id: string; token: string; project_id: string };
    assert.equal(t.project_id, "alpha");
    assert.match(t.token, /^mim_ing_/);
    assert.equal((await write(s, t.token, body)).status, 204);
    const list = (await (
      await s.fetch(`${s.url}/v1alpha5/ingest-tokens`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } })
    ).json()) as { tokens: Array<{ id: string }> };
    assert.ok(list.tokens.some((x) => x.id === t.id));
    assert.equal(JSON.stringify(list).includes(t.token), false);
    const del = await s.fetch(`${s.url}/v1alpha5/ingest-tokens/${t.id}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${ADMIN_KEY}` },
    });
    assert.equal(del.status, 204);
    const again = await write(s, t.token, body);
    assert.equal(again.status, 401);
    assert.match(again.body.error, /revoked/);
  });
});

describe("remote-write budget", () => {
  it("answers 503 with Retry-After past a token's sample budget", async () => {
    let now = T0;
    const s = await startRouteService({ limits: { remoteWriteSamplesPerSecond: 10 }, now: () => now });
    try {
      const token = s.ingestToken();
      const body = (k: number) =>
        encodeRemoteWriteBody({
          timeseries: [
            series(
              product("alpha"),
              Array.from({ length: 15 }, (_, i) => [T0 + (k * 15 + i) * 1000, i] as [number, number]),
            ),
          ],
        });
      assert.equal((await write(s, token, body(0))).status, 204);
      const refused = await write(s, token, body(1));
      assert.equal(refused.status, 503);
      assert.equal(refused.body.errorType, "unavailable");
      now += 2000;
      assert.equal((await write(s, token, body(1))).status, 204, "the budget refills");
    } finally {
      await s.close();
    }
  });
});
