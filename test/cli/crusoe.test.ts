/**
 * The two binaries end to end, as a newcomer uses them: `mim serve` in a child process writes the
 * local CLI config, then `crusoe` creates, lists and revokes tokens and runs queries through it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { type MimProcess, spawnMimServe } from "../support/mim-process.js";

const run = promisify(execFile);

type Served = MimProcess;
const serve = spawnMimServe;
const stop = (s: Served) => s.stop();

async function crusoe(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, ["--import", "tsx", "src/cli/crusoe.ts", ...args], { env });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

describe("mim serve + crusoe", () => {
  const dir = mkdtempSync(join(tmpdir(), "mim-cli-"));
  const env = { ...process.env, CRUSOE_CONFIG: join(dir, "crusoe.json"), MIM_ADMIN_KEY: "" };
  const dataDir = join(dir, "data");
  let served: Served;
  before(async () => {
    served = await serve(["--data-dir", dataDir, "--listen", "127.0.0.1:0", "--demo-project", "demo"], env);
  });
  after(async () => {
    if (served.child.exitCode === null) await stop(served);
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes the admin key and the CLI config with mode 0600", () => {
    assert.equal(statSync(join(dataDir, "admin.key")).mode & 0o777, 0o600);
    assert.equal(statSync(env.CRUSOE_CONFIG).mode & 0o777, 0o600);
    const config = JSON.parse(readFileSync(env.CRUSOE_CONFIG, "utf8")) as Record<string, string>;
    assert.equal(config.endpoint, served.url);
    assert.equal(config.admin_key, readFileSync(join(dataDir, "admin.key"), "utf8").trim());
    assert.equal(config.project, "demo");
  });

  it("prints a working curl line for the demo project", async () => {
    const line = /^\s+(curl -G .*)$/m.exec(served.stderr())?.[1];
    assert.ok(line, served.stderr());
    const { stdout } = await run("bash", ["-c", `${line} -s`]);
    assert.equal(JSON.parse(stdout).status, "success");
  });

  it("creates a token with the page's bare command, and it works at once", async () => {
    const r = await crusoe(env, "monitoring", "tokens", "create");
    assert.equal(r.code, 0, r.err);
    const token = /^\s+(mim_mon_\S+)$/m.exec(r.out)?.[1];
    assert.ok(token, r.out);
    assert.match(r.out, /shown only this once/);
    assert.match(
      r.out,
      new RegExp(`Prometheus server URL:\\s+${served.url}/v1alpha5/projects/demo/metrics/timeseries`),
    );
    const curl = /^\s+(curl -G .*)$/m.exec(r.out)?.[1];
    const { stdout } = await run("bash", ["-c", `${curl} -s`]);
    assert.deepEqual(JSON.parse(stdout), { status: "success", data: { resultType: "vector", result: [] } });
  });

  it("lists tokens without their values and revokes them", async () => {
    const created = await crusoe(
      env,
      "monitoring",
      "tokens",
      "create",
      "--project",
      "p2",
      "--name",
      "grafana",
      "--expires",
      "90d",
      "--output",
      "json",
    );
    assert.equal(created.code, 0, created.err);
    const t = JSON.parse(created.out) as { id: string; token: string; expires_at: string; query_url: string };
    assert.ok(Date.parse(t.expires_at) > Date.now() + 89 * 86_400_000);
    const list = await crusoe(env, "monitoring", "tokens", "list", "--project", "p2");
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^ID\s+NAME\s+PREFIX\s+CREATED\s+LAST USED\s+EXPIRES$/m);
    assert.match(list.out, new RegExp(`^${t.id}\\s+grafana\\s+mim_mon_`, "m"));
    assert.equal(list.out.includes(t.token), false);
    const ok = await fetch(`${t.query_url}/api/v1/query?query=1`, {
      headers: { Authorization: `Bearer ${t.token}` },
    });
    assert.equal(ok.status, 200);
    const revoke = await crusoe(env, "monitoring", "tokens", "revoke", t.id, "--project", "p2");
    assert.equal(revoke.code, 0, revoke.err);
    const gone = await fetch(`${t.query_url}/api/v1/query?query=1`, {
      headers: { Authorization: `Bearer ${t.token}` },
    });
    assert.equal(gone.status, 401);
    const again = await crusoe(env, "monitoring", "tokens", "revoke", t.id, "--project", "p2");
    assert.equal(again.code, 1);
    assert.match(again.err, /not_found: project p2 has no active token/);
  });

  it("runs instant and range queries as a table or JSON, leaving no token behind", async () => {
    const before = await crusoe(env, "monitoring", "tokens", "list", "--output", "json");
    const inst = await crusoe(
      env,
      "monitoring",
      "query",
      'label_replace(vector(2), "model_name", "m", "", "")',
      "--time",
      "100",
    );
    assert.equal(inst.code, 0, inst.err);
    assert.match(inst.out, /^SERIES\s+VALUE\n\{model_name="m"\}\s+2$/m);
    const range = await crusoe(
      env,
      "monitoring",
      "query",
      "time()",
      "--start",
      "0",
      "--end",
      "120",
      "--step",
      "1m",
      "--output",
      "json",
    );
    assert.equal(range.code, 0, range.err);
    assert.deepEqual(JSON.parse(range.out).data.result[0].values, [
      [0, "0"],
      [60, "60"],
      [120, "120"],
    ]);
    const bad = await crusoe(env, "monitoring", "query", "sum(");
    assert.equal(bad.code, 1);
    assert.match(bad.err, /bad_data: invalid parameter "query": 1:5: parse error/);
    const afterList = await crusoe(env, "monitoring", "tokens", "list", "--output", "json");
    assert.equal(
      JSON.parse(afterList.out).length,
      JSON.parse(before.out).length,
      "the temporary query token is revoked",
    );
  });

  it("explains what is missing when it cannot work", async () => {
    const bare = { ...process.env, CRUSOE_CONFIG: join(dir, "none.json") };
    const noEndpoint = await crusoe(bare, "monitoring", "tokens", "list");
    assert.equal(noEndpoint.code, 1);
    assert.match(noEndpoint.err, /no endpoint: pass --endpoint URL/);
    const noProject = await crusoe(
      { ...bare, CRUSOE_API_ENDPOINT: served.url, CRUSOE_ADMIN_KEY: "x".repeat(20) },
      "monitoring",
      "tokens",
      "list",
    );
    assert.match(noProject.err, /no project: pass --project ID/);
    const wrongKey = await crusoe(
      { ...bare, CRUSOE_API_ENDPOINT: served.url, CRUSOE_ADMIN_KEY: "x".repeat(20) },
      "monitoring",
      "tokens",
      "list",
      "--project",
      "demo",
    );
    assert.match(wrongKey.err, /unauthorized: invalid admin key/);
    const down = await crusoe(
      { ...bare, CRUSOE_API_ENDPOINT: "http://127.0.0.1:9", CRUSOE_ADMIN_KEY: "x".repeat(20) },
      "monitoring",
      "tokens",
      "list",
      "--project",
      "demo",
    );
    assert.match(down.err, /cannot reach http:\/\/127\.0\.0\.1:9/);
  });

  it("stops on SIGTERM and keeps tokens across a restart", async () => {
    const created = await crusoe(env, "monitoring", "tokens", "create", "--output", "json");
    const t = JSON.parse(created.out) as { token: string; query_url: string };
    assert.equal(await stop(served), 0);
    served = await serve(["--data-dir", dataDir, "--listen", "127.0.0.1:0"], env);
    const base = t.query_url.replace(/^http:\/\/[^/]+/, served.url);
    const r = await fetch(`${base}/api/v1/query?query=1`, {
      headers: { Authorization: `Bearer ${t.token}` },
    });
    assert.equal(r.status, 200);
  });
});

describe("mim serve configuration", () => {
  it("takes settings from a JSON config file and rejects unknown ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mim-cfg-"));
    try {
      const env = { ...process.env, CRUSOE_CONFIG: join(dir, "c.json") };
      writeFileSync(
        join(dir, "good.json"),
        JSON.stringify({ listen: "127.0.0.1:0", "data-dir": join(dir, "d"), retention: "30d" }),
      );
      const s = await serve(["--config", join(dir, "good.json"), "--no-cli-config"], env);
      try {
        assert.match(s.stderr(), /retention 30d/);
      } finally {
        await stop(s);
      }
      writeFileSync(join(dir, "bad.json"), JSON.stringify({ listen: "127.0.0.1:0", retension: "30d" }));
      await assert.rejects(serve(["--config", join(dir, "bad.json")], env), /unknown setting "retension"/);
      // Misordered units are refused, not summed (30m1h is not 1h30m).
      writeFileSync(
        join(dir, "order.json"),
        JSON.stringify({ listen: "127.0.0.1:0", "query-timeout": "30m1h" }),
      );
      await assert.rejects(
        serve(["--config", join(dir, "order.json")], env),
        /--config .*order\.json: query-timeout: invalid duration "30m1h": use a number of seconds, or units/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
