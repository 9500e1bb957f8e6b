/**
 * `mim serve --storage remote` as operators run it (a child process with flags and a JSON
 * --config): the flags reach the remote-write requests (extra headers, the bearer token file),
 * queries go to the engine, and misconfigurations stop it with a clear message before it starts.
 * Writes go to a loopback recorder that answers 204 (to see the headers), queries to a real
 * VictoriaMetrics (fails in CI without it; skipped elsewhere).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeRemoteWriteBody } from "../../src/ingest/remote-write/index.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { type EngineHandle, engineSkip, startVictoriaMetrics } from "../support/engines.js";
import { type MimProcess, spawnMimServe } from "../support/mim-process.js";

const ADMIN_KEY = "mim_adm_cli-remote-test-0123456789abcdef";

function serveFails(args: string[]): string {
  const out = spawnSync(process.execPath, ["--import", "tsx", "src/cli/mim.ts", "serve", ...args], {
    encoding: "utf8",
    env: { ...process.env, MIM_ADMIN_KEY: ADMIN_KEY },
    timeout: 60_000,
  });
  assert.notEqual(out.status, 0, out.stderr);
  return out.stderr;
}

describe("mim serve --storage remote", { skip: engineSkip("victoria-metrics") }, () => {
  let engine: EngineHandle;
  let recorder: http.Server;
  let writeUrl = "";
  const writes: http.IncomingHttpHeaders[] = [];
  let mim: MimProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "mim-cli-remote-"));

  before(async () => {
    engine = await startVictoriaMetrics();
    recorder = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        writes.push(req.headers);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => recorder.listen(0, "127.0.0.1", r));
    writeUrl = `http://127.0.0.1:${(recorder.address() as { port: number }).port}/api/v1/write`;
  });

  after(async () => {
    await mim?.stop();
    await new Promise((r) => recorder.close(r));
    await engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses incomplete or inconsistent remote settings before starting", () => {
    assert.match(serveFails(["--data-dir", dir, "--remote-write-url", writeUrl]), /need --storage remote/);
    assert.match(
      serveFails(["--data-dir", dir, "--storage", "remote", "--remote-write-url", writeUrl]),
      /needs --remote-write-url and --remote-query-url/,
    );
    assert.match(
      serveFails(["--data-dir", dir, "--storage", "remote", "--remote-header", "no colon here"]),
      /expected "Name: value"/,
    );
    assert.match(serveFails(["--data-dir", dir, "--storage", "s3"]), /Allowed choices are embedded, remote/);
  });

  it("forwards with the configured headers and token, and answers queries from the engine", async () => {
    const tokenFile = join(dir, "engine.token");
    writeFileSync(tokenFile, "engine-secret\n");
    const config = join(dir, "mim.json");
    writeFileSync(config, JSON.stringify({ remoteHeader: ["X-Team: metrics", "X-Env: test"] }));
    mim = await spawnMimServe(
      [
        "--data-dir",
        dir,
        "--listen",
        "127.0.0.1:0",
        "--no-cli-config",
        "--no-builtin-rules",
        "--log-level",
        "silent",
        "--config",
        config,
        "--storage",
        "remote",
        "--remote-write-url",
        writeUrl,
        "--remote-query-url",
        engine.url,
        "--remote-bearer-token-file",
        tokenFile,
      ],
      { ...process.env, MIM_ADMIN_KEY: ADMIN_KEY },
    );
    assert.match(mim.stderr(), /on remote storage: writes to http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write/);

    // An ingest token and one sample through our receiver: it leaves with the configured headers.
    const created = await fetch(`${mim.url}/v1alpha5/ingest-tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "w" }),
    });
    const { token } = (await created.json()) as { token: string };
    const body = encodeRemoteWriteBody({
      timeseries: [
        {
          labels: labelsFromObject({ __name__: "cli_probe", project_id: "p1" }),
          samples: [{ timestamp: Date.now(), value: 1 }],
        },
      ],
    });
    const res = await fetch(`${mim.url}/api/v1/write`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-encoding": "snappy" },
      body,
    });
    assert.equal(res.status, 204, await res.text());
    const deadline = Date.now() + 20_000;
    while (writes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(writes.length > 0, "nothing was forwarded");
    assert.equal(writes[0]["x-team"], "metrics");
    assert.equal(writes[0]["x-env"], "test");
    assert.equal(writes[0].authorization, "Bearer engine-secret");
    assert.equal(writes[0]["content-encoding"], "snappy");

    // Queries reach the engine (VictoriaMetrics ignores the bearer token): a valid, empty answer.
    const mon = await fetch(`${mim.url}/v1alpha5/projects/p1/monitoring/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "r" }),
    });
    const q = await fetch(`${mim.url}/v1alpha5/projects/p1/metrics/timeseries/api/v1/query?query=vector(2)`, {
      headers: { authorization: `Bearer ${((await mon.json()) as { token: string }).token}` },
    });
    const answer = (await q.json()) as {
      status: string;
      data: { result: Array<{ value: [number, string] }> };
    };
    assert.equal(answer.status, "success");
    assert.equal(answer.data.result[0].value[1], "2");
    const code = await mim.stop();
    mim = undefined;
    assert.equal(code, 0);
  });
});
