/**
 * Two API replicas (`startService` with `postgresUrl`: two data directories, one admin key) on one
 * real PostgreSQL token store: each sees the other's token creation and revocation at once through
 * the HTTP API, and only the holder of the rules lease evaluates the recording rules.
 * Skipped locally when PostgreSQL is missing; fails under CI=true.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TIMESERIES_PREFIX } from "../../src/api/server.js";
import { type RunningService, startService } from "../../src/cli/service.js";
import { type PgServer, postgresSkip, startPostgres } from "../auth/pg-server.js";
import { testServiceConfig } from "../support/service-config.js";

const ADMIN_KEY = "mim_adm_replicas-test-admin-key-0123456789";
const skip = postgresSkip();

describe("API replicas on one PostgreSQL token store", { skip }, () => {
  let pg: PgServer | undefined;
  const replicas: RunningService[] = [];
  const dirs: string[] = [];

  async function replica(url: string): Promise<RunningService> {
    const dataDir = mkdtempSync(join(tmpdir(), "mim-replica-"));
    dirs.push(dataDir);
    const s = await startService(
      testServiceConfig(dataDir, ADMIN_KEY, { postgresUrl: url, builtinRules: true, ruleIntervalMs: 500 }),
    );
    replicas.push(s);
    return s;
  }

  const base = (s: RunningService, project: string) =>
    s.url + TIMESERIES_PREFIX.replace(":projectId", encodeURIComponent(project));

  async function admin(s: RunningService, method: string, path: string, body?: unknown) {
    const res = await fetch(s.url + path, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text === "" ? undefined : JSON.parse(text) };
  }

  async function query(s: RunningService, project: string, token: string, path = "/api/v1/query?query=1") {
    const res = await fetch(base(s, project) + path, { headers: { authorization: `Bearer ${token}` } });
    return {
      status: res.status,
      json: (await res.json()) as { data: { groups: Array<{ lastEvaluation: string }> } },
    };
  }

  before(async () => {
    pg = await startPostgres();
    const url = await pg.schemaUrl("replicas");
    await replica(url);
    await replica(url);
  });

  after(async () => {
    for (const s of replicas) await s.close();
    await pg?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("see each other's monitoring token creation and revocation at once", async () => {
    const [a, b] = replicas;
    const created = await admin(a, "POST", "/v1alpha5/projects/p1/monitoring/tokens", { name: "shared" });
    assert.equal(created.status, 201);
    const token: string = created.json.token;
    assert.equal((await query(b, "p1", token)).status, 200);
    assert.equal((await query(a, "p1", token)).status, 200);
    const listed = await admin(b, "GET", "/v1alpha5/projects/p1/monitoring/tokens");
    assert.deepEqual(
      listed.json.tokens.map((t: { id: string }) => t.id),
      [created.json.id],
    );
    const revoked = await admin(b, "DELETE", `/v1alpha5/projects/p1/monitoring/tokens/${created.json.id}`);
    assert.equal(revoked.status, 204);
    assert.equal((await query(a, "p1", token)).status, 401);
    assert.equal((await query(b, "p1", token)).status, 401);
    assert.equal((await admin(a, "GET", "/v1alpha5/projects/p1/monitoring/tokens")).json.tokens.length, 0);
  });

  it("see each other's ingest token creation and revocation at once", async () => {
    const [a, b] = replicas;
    const created = await admin(b, "POST", "/v1alpha5/ingest-tokens", { name: "writer", project_id: "p2" });
    assert.equal(created.status, 201);
    const listed = await admin(a, "GET", "/v1alpha5/ingest-tokens?project_id=p2");
    assert.deepEqual(
      listed.json.tokens.map((t: { id: string }) => t.id),
      [created.json.id],
    );
    assert.equal((await admin(a, "DELETE", `/v1alpha5/ingest-tokens/${created.json.id}`)).status, 204);
    assert.equal((await admin(b, "GET", "/v1alpha5/ingest-tokens?project_id=p2")).json.tokens.length, 0);
    assert.equal((await admin(b, "DELETE", `/v1alpha5/ingest-tokens/${created.json.id}`)).status, 404);
  });

  it("evaluate the recording rules on one replica only", async () => {
    const created = await admin(replicas[0], "POST", "/v1alpha5/projects/p3/monitoring/tokens", {
      name: "rules",
    });
    const token: string = created.json.token;
    // Several evaluation intervals (500 ms) pass.
    await new Promise((r) => setTimeout(r, 2_000));
    const evaluated: boolean[] = [];
    for (const s of replicas) {
      const res = await query(s, "p3", token, "/api/v1/rules");
      assert.equal(res.status, 200);
      const groups: Array<{ lastEvaluation: string }> = res.json.data.groups;
      assert.ok(groups.length > 0);
      const any = groups.some((g) => Date.parse(g.lastEvaluation) > 0);
      assert.equal(
        any,
        s.rules.health().some((h) => h.lastEvaluation !== undefined),
      );
      evaluated.push(any);
    }
    assert.deepEqual(
      evaluated.filter((e) => e),
      [true],
      `exactly one replica evaluates the rules: ${JSON.stringify(evaluated)}`,
    );
  });
});
