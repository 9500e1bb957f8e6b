/**
 * Tenant-per-project mode end to end: `startService` with `remote.tenantHeader` (as
 * `mim serve --remote-tenant-header X-Scope-OrgID`) in front of a real VictoriaMetrics 1.79, with
 * a loopback proxy between them that records what each request carries. Debian has no
 * multi-tenant engine (Mimir, VictoriaMetrics cluster), so the proxy checks the tenant part — every
 * remote-write request holds one project's series and names that project in the header; every
 * query names the caller's project — while VictoriaMetrics stores and answers. In this mode the
 * built-in rules do not run here and rule files are refused.
 *
 * Fails in CI when victoria-metrics is missing; skipped elsewhere.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TIMESERIES_PREFIX } from "../../src/api/server.js";
import { type RunningService, type ServiceConfig, startService } from "../../src/cli/service.js";
import { decodeRemoteWrite } from "../../src/ingest/remote-write/index.js";
import { getLabel, normalizeLabels } from "../../src/storage/index.js";
import { type EngineHandle, engineSkip, remoteWrite, startVictoriaMetrics } from "../support/engines.js";
import { testServiceConfig } from "../support/service-config.js";
import { generateSteadyFleet } from "../support/steady-fleet.js";

const ADMIN_KEY = "mim_adm_tenant-mode-test-key-0123456789";
const HEADER = "x-scope-orgid";

interface Seen {
  path: string;
  tenant: string | undefined;
  /** Projects of the series in a remote-write body. */
  projects: Set<string>;
}

/** Forwards everything to the engine, recording each request's tenant and, for writes, its projects. */
class RecordingProxy {
  seen: Seen[] = [];
  private server!: http.Server;
  url = "";
  constructor(private readonly engineUrl: string) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const body = Buffer.concat(chunks);
        const path = (req.url ?? "/").split("?")[0];
        const projects = new Set<string>();
        if (path === "/api/v1/write") {
          decodeRemoteWrite(body, {
            series: (labels) => void projects.add(getLabel(normalizeLabels(labels), "project_id")),
            samples: () => {},
          });
        }
        const tenant = req.headers[HEADER];
        this.seen.push({ path, tenant: typeof tenant === "string" ? tenant : undefined, projects });
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (typeof v === "string" && !["host", "content-length", "connection"].includes(k)) headers[k] = v;
        }
        const upstream = await fetch(this.engineUrl + (req.url ?? "/"), {
          method: req.method,
          headers,
          body: req.method === "GET" ? undefined : body,
        });
        const answer = Buffer.from(await upstream.arrayBuffer());
        res.writeHead(upstream.status, {
          "content-type": upstream.headers.get("content-type") ?? "text/plain",
        });
        res.end(answer);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe("tenant-per-project mode", { skip: engineSkip("victoria-metrics") }, () => {
  let engine: EngineHandle;
  let proxy: RecordingProxy;
  let service: RunningService;
  const dirs: string[] = [];
  const fleet = generateSteadyFleet({
    startMs: Math.floor(Date.now() / 1000) * 1000 - 20 * 60_000,
    durationMs: 15 * 60_000,
  });

  function config(extra: Partial<ServiceConfig> = {}): ServiceConfig {
    const dir = mkdtempSync(join(tmpdir(), "mim-tenant-"));
    dirs.push(dir);
    return testServiceConfig(dir, ADMIN_KEY, {
      remote: { writeUrl: `${proxy.url}/api/v1/write`, queryUrl: proxy.url, tenantHeader: "X-Scope-OrgID" },
      ...extra,
    });
  }

  async function admin(path: string, body: unknown): Promise<string> {
    const res = await fetch(service.url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201);
    return ((await res.json()) as { token: string }).token;
  }

  before(async () => {
    engine = await startVictoriaMetrics();
    proxy = new RecordingProxy(engine.url);
    await proxy.start();
    service = await startService(config());
  });

  after(async () => {
    await service?.close();
    await proxy?.close();
    await engine?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("writes one project per request under its tenant, and queries under the caller's", async () => {
    const ingest = await admin("/v1alpha5/ingest-tokens", { name: "w" });
    await remoteWrite(`${service.url}/api/v1/write`, fleet.series, {
      headers: { authorization: `Bearer ${ingest}` },
    });
    assert.ok(await service.remote?.drain(60_000));
    await engine.flush();

    const writes = proxy.seen.filter((s) => s.path === "/api/v1/write");
    assert.ok(writes.length >= fleet.projects.length, `${writes.length} write requests`);
    for (const w of writes) {
      assert.equal(w.projects.size, 1, `a request mixed projects: ${[...w.projects]}`);
      assert.equal(w.tenant, [...w.projects][0]);
    }
    assert.deepEqual(new Set(writes.map((w) => w.tenant)), new Set(fleet.projects));
    assert.equal(service.remote?.status().failedSamples, 0);

    const [own, other] = fleet.projects;
    const token = await admin(`/v1alpha5/projects/${own}/monitoring/tokens`, { name: "r" });
    proxy.seen = [];
    const base = service.url + TIMESERIES_PREFIX.replace(":projectId", own);
    const res = await fetch(
      `${base}/api/v1/query?${new URLSearchParams({ query: 'count by (project_id) ({__name__=~".+"})', time: String(fleet.endMs / 1000) })}`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    const body = (await res.json()) as { data: { result: Array<{ metric: Record<string, string> }> } };
    assert.equal(res.status, 200);
    assert.deepEqual(
      body.data.result.map((r) => r.metric.project_id),
      [own],
    );
    const labels = await fetch(`${base}/api/v1/label/project_id/values`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.deepEqual(((await labels.json()) as { data: string[] }).data, [own]);
    assert.ok(proxy.seen.length >= 2);
    for (const s of proxy.seen) assert.equal(s.tenant, own, `${s.path} went to tenant ${s.tenant}`);
    assert.ok(!proxy.seen.some((s) => s.tenant === other));
  });

  it("runs no rules here, refuses rule files and a tenant on one path only", async () => {
    assert.equal(service.rules.groups.length, 0);
    const file = join(dirs[0], "rules.yml");
    writeFileSync(file, "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: vector(1)\n");
    await assert.rejects(startService(config({ ruleFiles: [file] })), /tenant-per-project/);
    // Tenants on one path only would write per project and read nothing: refused at start.
    const half = config({
      remote: { writeUrl: `${proxy.url}/insert/{tenant}/api/v1/write`, queryUrl: proxy.url },
    });
    await assert.rejects(startService(half), /\{tenant\} is in the remote write URL only/);
  });
});
