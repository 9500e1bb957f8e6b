/**
 * The read half of remote mode against a loopback HTTP server playing the engine's side of the
 * protocol: what we send (enforced query, times in seconds, tenant header or path), and how each
 * kind of answer comes back through our API (success envelope re-encoded, the engine's errors in
 * Prometheus's shape, an unreachable or nonsensical engine as 503, an oversized answer refused).
 * Real engines are exercised by remote-mode.test.ts.
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import { toApiError } from "../../src/api/errors.js";
import { RemoteBackend } from "../../src/modes/remote-backend.js";
import { EngineClient, type EngineError, parseEnvelope } from "../../src/remote/read/client.js";
import { decodeQueryData } from "../../src/remote/read/decode.js";
import { startTestService } from "../api/harness.js";

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  params: URLSearchParams;
}

type Answer = { status: number; body: string; headers?: Record<string, string> };

class FakeEngineSide {
  seen: Seen[] = [];
  /** Requests left unanswered (answer gave null) that their sender then closed. */
  abandoned = 0;
  answer: (s: Seen) => Answer | null = () => ({ status: 200, body: '{"status":"success","data":[]}' });
  private server!: Server;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const u = new URL(req.url ?? "/", "http://x");
        const params = new URLSearchParams(u.search);
        for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString())) params.append(k, v);
        const s: Seen = { method: req.method ?? "", path: u.pathname, headers: req.headers, params };
        this.seen.push(s);
        const a = this.answer(s);
        if (a === null) {
          res.on("close", () => this.abandoned++);
          return;
        }
        res.writeHead(a.status, { "Content-Type": "application/json", ...a.headers });
        res.end(a.body);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const signal = new AbortController().signal;
const instant = (query: string, t = 1_700_000_000_500) => ({
  query,
  kind: "instant" as const,
  start: t,
  end: t,
  step: 0,
  deadline: Date.now() + 3_600_000,
  signal,
});

describe("remote reads", () => {
  const engine = new FakeEngineSide();
  before(() => engine.start());
  after(() => engine.close());

  it("sends the enforced query with times in seconds and decodes the answer", async () => {
    engine.seen = [];
    engine.answer = () => ({
      status: 200,
      body: JSON.stringify({
        status: "success",
        data: {
          resultType: "vector",
          result: [{ metric: { model_name: "m", project_id: "p1" }, value: [1700000000.5, "+Inf"] }],
        },
        warnings: ["w1"],
      }),
    });
    const backend = new RemoteBackend(new EngineClient({ url: `${engine.url}/prom/` }), 60_000);
    const r = await backend.query("p1", instant('sum(rate(x{project_id="p2"}[5m])) or y'));
    const sent = engine.seen[0];
    assert.equal(sent.method, "POST");
    assert.equal(sent.path, "/prom/api/v1/query");
    assert.equal(sent.params.get("time"), "1700000000.5");
    assert.equal(sent.params.get("timeout"), "60");
    assert.equal(sent.params.get("extra_label"), "project_id=p1");
    const q = sent.params.get("query") ?? "";
    assert.match(q, /y\{project_id="p1"\}/);
    assert.doesNotMatch(q, /project_id="p2"/);
    assert.deepEqual(r.warnings, ["w1"]);
    assert.equal(r.value.type, "vector");
    if (r.value.type === "vector") {
      assert.equal(r.value.samples[0].t, 1_700_000_000_500);
      assert.equal(r.value.samples[0].v, Number.POSITIVE_INFINITY);
      assert.deepEqual(
        r.value.samples[0].metric.map((l) => l.name),
        ["model_name", "project_id"],
      );
    }
  });

  it("puts the project in the tenant header and the URL's {tenant}", async () => {
    engine.seen = [];
    engine.answer = () => ({ status: 200, body: '{"status":"success","data":["a"]}' });
    const client = new EngineClient({
      url: `${engine.url}/select/{tenant}/prometheus`,
      tenantHeader: "X-Scope-OrgID",
    });
    const backend = new RemoteBackend(client, 60_000);
    const req = { start: -8_640_000_000_000_000, end: 8_640_000_000_000_000, match: [], matchers: [] };
    assert.deepEqual(await backend.labelValues("42", "model_name", req), ["a"]);
    const sent = engine.seen[0];
    assert.equal(sent.path, "/select/42/prometheus/api/v1/label/model_name/values");
    assert.equal(sent.headers["x-scope-orgid"], "42");
    assert.deepEqual(sent.params.getAll("match[]"), ['{project_id="42"}']);
    assert.equal(sent.params.get("start"), "1");
    assert.equal(sent.params.get("end"), null);
    assert.equal(sent.params.get("extra_label"), "project_id=42");
    await assert.rejects(client.call("/api/v1/labels", new URLSearchParams()), /without a tenant/);
    // Other names travel as one encoded path segment; a U__ name is escaped so 3.x keeps it.
    engine.seen = [];
    for (const name of ["svc.name", "a/../x?y#", "..", "U__x"]) await backend.labelValues("42", name, req);
    assert.deepEqual(
      engine.seen.map((s) => s.path),
      [
        "/select/42/prometheus/api/v1/label/svc.name/values",
        "/select/42/prometheus/api/v1/label/U__a_2f__2e__2e__2f_x_3f_y_23_/values",
        "/select/42/prometheus/api/v1/label/U___2e__2e_/values",
        "/select/42/prometheus/api/v1/label/U__U____x/values",
      ],
    );
  });

  it("passes the engine's errors on in Prometheus's shape; an unreachable engine is 503", async () => {
    const backend = new RemoteBackend(new EngineClient({ url: engine.url }), 60_000);
    engine.answer = () => ({
      status: 422,
      body: '{"status":"error","errorType":"execution","error":"too many samples"}',
    });
    // The backend throws the engine's error; the API's one mapping (toApiError) answers it.
    const answered = (p: Promise<unknown>) => p.catch((err) => Promise.reject(toApiError(err)));
    await assert.rejects(
      answered(backend.query("p", instant("x"))),
      (e: { type: string; status: number; message: string }) => {
        assert.equal(e.type, "execution");
        assert.equal(e.status, 422);
        assert.match(e.message, /too many samples/);
        return true;
      },
    );
    engine.answer = () => ({ status: 502, body: "<html>bad gateway</html>" });
    await assert.rejects(
      answered(backend.query("p", instant("x"))),
      (e: { type: string; status: number; headers: Record<string, string> }) => {
        assert.equal(e.type, "unavailable");
        assert.equal(e.status, 503);
        assert.equal(e.headers["Retry-After"], "5");
        return true;
      },
    );
    engine.answer = () => ({
      status: 200,
      body: '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}',
    });
    await assert.rejects(backend.query("p", instant("x")), /malformed answer/);
    const away = new RemoteBackend(new EngineClient({ url: "http://127.0.0.1:1" }), 60_000);
    await assert.rejects(answered(away.query("p", instant("x"))), (e: { type: string; message: string }) => {
      assert.equal(e.type, "unavailable");
      assert.match(e.message, /unreachable/);
      return true;
    });
    // Our own parse errors never reach the engine.
    engine.seen = [];
    await assert.rejects(backend.query("p", instant("sum(")), /parse error/);
    assert.equal(engine.seen.length, 0);
  });

  it("stops the engine's work when our client goes away", async () => {
    engine.seen = [];
    engine.abandoned = 0;
    engine.answer = () => null;
    const s = await startTestService({
      remote: { writeUrl: `${engine.url}/api/v1/write`, url: engine.url, flush: async () => {} },
    });
    try {
      const ac = new AbortController();
      const pending = fetch(`${s.base("p1")}/api/v1/query_range?query=up&start=0&end=600&step=15`, {
        headers: { authorization: `Bearer ${s.token("p1")}` },
        signal: ac.signal,
      }).catch(() => "aborted");
      while (engine.seen.length === 0) await new Promise((r) => setTimeout(r, 10));
      ac.abort();
      assert.equal(await pending, "aborted");
      // Far sooner than the engine call's own deadline (2 minutes), which would also close it.
      const deadline = Date.now() + 20_000;
      while (engine.abandoned === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(engine.abandoned, 1);
    } finally {
      await s.close();
    }
  });

  it("refuses an answer larger than the bound", async () => {
    engine.answer = () => ({ status: 200, body: `{"status":"success","data":["${"a".repeat(5000)}"]}` });
    const client = new EngineClient({ url: engine.url, maxResponseBytes: 1000 });
    await assert.rejects(client.call("/api/v1/labels", new URLSearchParams()), (e: EngineError) => {
      assert.equal(e.kind, "execution");
      assert.match(e.message, /larger than 1000 bytes/);
      return true;
    });
  });
});

describe("remote answers", () => {
  it("decodes every result type and keeps special values", () => {
    assert.deepEqual(decodeQueryData({ resultType: "scalar", result: [1.5, "NaN"] }), {
      type: "scalar",
      t: 1500,
      v: Number.NaN,
    });
    assert.deepEqual(decodeQueryData({ resultType: "string", result: [2, "hi"] }), {
      type: "string",
      t: 2000,
      v: "hi",
    });
    const m = decodeQueryData({
      resultType: "matrix",
      result: [
        {
          metric: { b: "2", a: "1", e: "" },
          values: [
            [1, "-Inf"],
            [2.001, "1e-07"],
          ],
        },
      ],
    });
    assert.equal(m.type, "matrix");
    if (m.type === "matrix") {
      assert.deepEqual(m.series[0].metric, [
        { name: "a", value: "1" },
        { name: "b", value: "2" },
      ]);
      assert.deepEqual([...m.series[0].ts], [1000, 2001]);
      assert.deepEqual([...m.series[0].vs], [Number.NEGATIVE_INFINITY, 1e-7]);
    }
    assert.throws(
      () => decodeQueryData({ resultType: "matrix", result: [{ metric: {}, histograms: [] }] }),
      /native histograms/,
    );
    assert.throws(() => decodeQueryData({ resultType: "nope", result: [] }), /unknown resultType/);
  });

  it("reads the envelope of any status", () => {
    assert.deepEqual(parseEnvelope(200, '{"status":"success","data":1,"infos":["i"]}'), {
      data: 1,
      warnings: [],
      infos: ["i"],
    });
    assert.throws(
      () => parseEnvelope(400, '{"status":"error","errorType":"bad_data","error":"x"}'),
      (e: EngineError) => e.kind === "bad_data",
    );
    assert.throws(
      () => parseEnvelope(400, "unsupported thing"),
      (e: EngineError) => e.kind === "bad_data",
    );
    assert.throws(
      () => parseEnvelope(503, "down"),
      (e: EngineError) => e.kind === "unavailable",
    );
    assert.throws(
      () => parseEnvelope(200, '{"hello":1}'),
      (e: EngineError) => e.kind === "unavailable",
    );
  });
});
