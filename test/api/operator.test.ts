/**
 * The operator's query API (`/v1alpha5/operator/metrics/timeseries`, the admin key): every
 * project's series for the provider's own dashboards, in embedded mode and on a real Prometheus in
 * remote mode; never open to a monitoring token, a wrong key or none.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OPERATOR_PREFIX } from "../../src/api/server.js";
import { OPERATOR } from "../../src/modes/backend.js";
import { RemoteBackend } from "../../src/modes/remote-backend.js";
import { EngineClient, type EngineError } from "../../src/remote/read/client.js";
import { type EngineHandle, type EngineKind, engineSkip, startEngineOfKind } from "../support/engines.js";
import { ADMIN_KEY, type SampleSeries, startRouteService, type TestService } from "./harness.js";

const T = Date.UTC(2026, 11, 1, 12);
const series = (project: string, model: string, value: number): SampleSeries => ({
  labels: {
    __name__: "crusoe_inference_request_count",
    project_id: project,
    model_name: model,
    service_tier: "on_demand",
  },
  samples: [
    [T - 60_000, value],
    [T, value + 10],
  ],
});
const DATA = [series("alpha", "m1", 5), series("alpha", "m2", 7), series("beta", "m1", 100)];

const MODES: ReadonlyArray<{ name: string; engine?: EngineKind }> = [
  { name: "embedded" },
  { name: "remote, Prometheus", engine: "prometheus" },
];

for (const mode of MODES) {
  describe(`operator query API (${mode.name})`, {
    skip: mode.engine ? engineSkip(mode.engine) : false,
  }, () => {
    let s: TestService;
    let engine: EngineHandle | undefined;

    before(async () => {
      if (mode.engine) engine = await startEngineOfKind(mode.engine);
      s = await startRouteService({ remote: engine });
      s.load(DATA);
      await s.settle();
    });
    after(async () => {
      await s.close();
      await engine?.close();
    });

    const get = (path: string, auth?: string) =>
      s.fetch(
        `${s.url}${OPERATOR_PREFIX}${path}`,
        auth ? { headers: { authorization: `Bearer ${auth}` } } : {},
      );
    const data = async (res: Response) => {
      const body = (await res.json()) as { status: string; data: unknown; errorType?: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      return body.data;
    };

    it("answers queries over every project with the admin key", async () => {
      const q = encodeURIComponent("sum by (project_id) (crusoe_inference_request_count)");
      const v = (await data(await get(`/api/v1/query?query=${q}&time=${T / 1000}`, ADMIN_KEY))) as {
        result: Array<{ metric: Record<string, string>; value: [number, string] }>;
      };
      const byProject = Object.fromEntries(v.result.map((r) => [r.metric.project_id, Number(r.value[1])]));
      assert.deepEqual(byProject, { alpha: 15 + 17, beta: 110 });
      const range = (await data(
        await get(
          `/api/v1/query_range?query=${q}&start=${(T - 60_000) / 1000}&end=${T / 1000}&step=60`,
          ADMIN_KEY,
        ),
      )) as { result: unknown[] };
      assert.equal(range.result.length, 2);
    });

    it("looks up series, label names and values across projects", async () => {
      const match = encodeURIComponent('{__name__="crusoe_inference_request_count"}');
      const times = `start=${(T - 120_000) / 1000}&end=${T / 1000}`;
      const all = (await data(await get(`/api/v1/series?match[]=${match}&${times}`, ADMIN_KEY))) as unknown[];
      assert.equal(all.length, 3);
      const projects = await data(await get(`/api/v1/label/project_id/values?${times}`, ADMIN_KEY));
      assert.deepEqual(projects, ["alpha", "beta"]);
      const names = (await data(await get(`/api/v1/labels?${times}`, ADMIN_KEY))) as string[];
      assert.ok(names.includes("project_id") && names.includes("model_name"), names.join(","));
    });

    it("refuses a monitoring token, a wrong admin key and no credentials", async () => {
      const q = `/api/v1/query?query=${encodeURIComponent("crusoe_inference_request_count")}&time=${T / 1000}`;
      for (const auth of [s.token("alpha"), `${ADMIN_KEY}x`, undefined]) {
        const res = await get(q, auth);
        assert.equal(res.status, 401, `credentials ${auth?.slice(0, 8)}`);
        const body = (await res.json()) as { status: string; errorType: string };
        assert.equal(body.status, "error");
        assert.equal(body.errorType, "unauthorized");
      }
    });

    it("leaves a project's own API scoped to that project", async () => {
      const q = encodeURIComponent("sum by (project_id) (crusoe_inference_request_count)");
      const res = await s.fetch(`${s.base("alpha")}/api/v1/query?query=${q}&time=${T / 1000}`, {
        headers: { authorization: `Bearer ${s.token("alpha")}` },
      });
      const v = (await data(res)) as { result: Array<{ metric: Record<string, string> }> };
      assert.deepEqual(
        v.result.map((r) => r.metric.project_id),
        ["alpha"],
      );
    });
  });
}

describe("operator reads on a tenant-per-project engine", () => {
  it("are refused with a clear error before anything is sent", async () => {
    // Port 1 refuses connections: a call that went out would fail differently.
    const client = new EngineClient({ url: "http://127.0.0.1:1", tenantHeader: "X-Scope-OrgID" });
    const backend = new RemoteBackend(client, 60_000);
    const req = {
      query: "up",
      kind: "instant" as const,
      start: T,
      end: T,
      step: 0,
      deadline: Date.now() + 5000,
      signal: new AbortController().signal,
    };
    await assert.rejects(backend.query(OPERATOR, req), (err: EngineError) => {
      assert.equal(err.kind, "bad_data");
      assert.match(err.message, /tenant-per-project engine cannot answer/);
      return true;
    });
    await assert.rejects(
      backend.labelNames(OPERATOR, { start: 0, end: T, match: [], matchers: [] }),
      /tenant-per-project engine cannot answer/,
    );
  });
});
