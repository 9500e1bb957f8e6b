/**
 * The service in remote storage mode on a full disk, on a real tmpfs filled to the last block
 * (root only; skipped otherwise), against a real Prometheus 2.42 on loopback (whose data lives on
 * the ordinary disk; fails in CI when the binary is missing, skipped elsewhere). Remote mode keeps
 * only its remote-write queue and the token database (meta.db) on the node, both in the data
 * directory on the tmpfs:
 * - it starts with that directory on the full disk, after a clean stop and after a crash (rows
 *   still queued), and serves queries through the engine, token listings, /-/healthy and /-/ready;
 * - every write path refuses with 503, Retry-After and Prometheus's error shape ("out of disk
 *   space"), never 500: remote write into the queue, token creation and revocation (monitoring and
 *   ingest); the gateway's flush reports it without throwing; what was queued before stays queued;
 * - once space is freed, all of them succeed again without a restart, the rows queued before the
 *   disk filled and those queued after reach the engine, and after a restart nothing is missing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { unlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type RunningService, startService } from "../../src/cli/service.js";
import { Flusher, Meter } from "../../src/gateway/index.js";
import { encodeRemoteWriteBody } from "../../src/ingest/remote-write/index.js";
import { DataDirInUseError } from "../../src/modes/data-dir-lock.js";
import { RemoteWriteStorage } from "../../src/remote/sender/index.js";
import { DiskFullError, labelsFromObject } from "../../src/storage/index.js";
import { type EngineHandle, engineSkip, startPrometheus } from "../support/engines.js";
import { capturedLogs, testServiceConfig } from "../support/service-config.js";
import { canMountTmpfs, fillDisk, mountTmpfs, unmountTmpfs } from "../support/tmpfs.js";

const ADMIN_KEY = "mim_adm_remote-disk-full-key-0123456789";
const PROJECT = "alpha";
const SHARDS = 2;
/** Whole seconds, ten minutes back: inside Prometheus's head window, never in the future. */
const T = Number(process.env.MIM_DISK_FULL_T ?? Math.floor((Date.now() - 600_000) / 1000) * 1000);
const CHILD_ENV = "MIM_REMOTE_DISK_FULL_CHILD_DIR";

// As a child process: queue samples in the remote-write queue in $CHILD_ENV (for an engine that
// is not there), then die without closing it: a crash with rows queued and never sent.
const childDir = process.env[CHILD_ENV];
if (childDir) {
  const q = new RemoteWriteStorage({ url: "http://127.0.0.1:9/api/v1/write", dir: childDir, shards: SHARDS });
  const app = q.appender();
  for (let i = 0; i < 20; i++) app.append(0, seriesLabels("crashed"), T + i * 1000, 100 + i);
  app.commit();
  process.exit(0);
}

function seriesLabels(name: string) {
  return labelsFromObject({ __name__: name, project_id: PROJECT, job: "disk-full" });
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

async function call(
  s: RunningService,
  path: string,
  o: { method?: string; token?: string; body?: unknown; raw?: Uint8Array } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  if (o.raw) {
    headers["content-type"] = "application/x-protobuf";
    headers["content-encoding"] = "snappy";
    headers["x-prometheus-remote-write-version"] = "0.1.0";
  }
  const res = await fetch(`${s.url}${path}`, {
    method: o.method ?? (o.body !== undefined || o.raw ? "POST" : "GET"),
    headers,
    body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {}
  return { status: res.status, headers: res.headers, text, json };
}

function assertDiskFull(a: Answer, what: string): void {
  assert.equal(a.status, 503, `${what}: ${a.text}`);
  assert.equal(a.json.status, "error", what);
  assert.equal(a.json.errorType, "unavailable", what);
  assert.match(String(a.json.error), /out of disk space/, what);
  assert.ok(
    Number(a.headers.get("retry-after")) >= 1,
    `${what}: Retry-After ${a.headers.get("retry-after")}`,
  );
}

const base = `/v1alpha5/projects/${PROJECT}`;
const tsdbBase = `${base}/metrics/timeseries`;

function remoteWrite(name: string, from: number, n: number, v0: number): Uint8Array {
  return encodeRemoteWriteBody({
    timeseries: [
      {
        labels: seriesLabels(name),
        samples: Array.from({ length: n }, (_, i) => ({ timestamp: T + (from + i) * 1000, value: v0 + i })),
      },
    ],
  });
}

/** The values of `name` in [T, T + 600 s] as the engine holds them, as "offset_s:value" strings. */
async function series(s: RunningService, token: string, name: string): Promise<string[]> {
  const q = new URLSearchParams({ query: `${name}[10m]`, time: String((T + 599_000) / 1000) });
  const a = await call(s, `${tsdbBase}/api/v1/query?${q}`, { token });
  assert.equal(a.status, 200, a.text);
  const result = (a.json.data as { result: Array<{ values: Array<[number, string]> }> }).result;
  return result.flatMap((r) => r.values.map(([t, v]) => `${Math.round(t - T / 1000)}:${v}`));
}

const range = (from: number, n: number, v0: number) =>
  Array.from({ length: n }, (_, i) => `${from + i}:${v0 + i}`);

/** Everything queued has reached the engine (Prometheus: searchable at once). */
async function drained(s: RunningService): Promise<void> {
  assert.ok(await s.remote?.drain(10_000), `queue not drained: ${JSON.stringify(s.remote?.status())}`);
}

describe("the service in remote mode on a full disk", {
  skip: !canMountTmpfs() ? "needs root and tmpfs mounts" : engineSkip("prometheus"),
}, () => {
  let engine: EngineHandle;
  before(async () => {
    engine = await startPrometheus();
  });
  after(async () => {
    await engine?.close();
  });

  it("starts, serves queries, refuses every write with 503, keeps its queue, and recovers when space is freed", async () => {
    const dir = mountTmpfs("2m");
    assert.ok(dir);
    const filler = join(dir, "filler");
    const { logs, logDestination } = capturedLogs();
    const config = testServiceConfig(dir, ADMIN_KEY, {
      builtinRules: false,
      logLevel: "warn",
      logDestination,
      remote: { writeUrl: engine.writeUrl, queryUrl: engine.url, shards: SHARDS },
    });
    let s: RunningService | null = null;
    try {
      // Before: tokens made and samples delivered on a disk with room, then a clean stop.
      s = await startService(config);
      const mon = await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY, body: { name: "mon" } });
      assert.equal(mon.status, 201, mon.text);
      const monToken = String(mon.json.token);
      const spare = await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY, body: { name: "spare" } });
      assert.equal(spare.status, 201, spare.text);
      const ing = await call(s, "/v1alpha5/ingest-tokens", { token: ADMIN_KEY, body: { name: "ing" } });
      assert.equal(ing.status, 201, ing.text);
      const ingToken = String(ing.json.token);
      assert.equal(
        (await call(s, "/api/v1/write", { token: ingToken, raw: remoteWrite("m", 0, 30, 0) })).status,
        204,
      );
      await drained(s);
      assert.deepEqual(await series(s, monToken, "m"), range(0, 30, 0));
      await s.close();
      s = null;

      // A crash on top: rows queued (in the WAL, never sent), which the next start must ship.
      const child = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
        env: { ...process.env, [CHILD_ENV]: dir, MIM_DISK_FULL_T: String(T) },
        encoding: "utf8",
      });
      assert.equal(child.status, 0, child.stderr);

      // The disk fills up; the service starts anyway and answers from the engine.
      fillDisk(filler);
      s = await startService(config);
      const logText = () => logs.join("");
      assert.match(logText(), /meta\.db: the disk is full/);
      // The lock file of the earlier run is rewritten in place: held on the full disk as well.
      assert.equal(s.dataDirLock.locked, true);
      await assert.rejects(startService(config), DataDirInUseError);
      assert.equal((await call(s, "/-/healthy")).status, 200);
      const ready = await call(s, "/-/ready");
      assert.equal(ready.status, 200, ready.text);
      assert.deepEqual(await series(s, monToken, "m"), range(0, 30, 0));
      const listed = await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY });
      assert.equal(listed.status, 200, listed.text);
      assert.equal(s.remote?.status().queuedSamples, 20, "the crashed process's rows are queued");

      // Every write path: 503, Retry-After, Prometheus's error shape; never 500.
      assertDiskFull(
        await call(s, "/api/v1/write", { token: ingToken, raw: remoteWrite("m", 30, 10, 30) }),
        "remote write",
      );
      assertDiskFull(
        await call(s, "/api/v1/write", { token: ingToken, raw: remoteWrite("new_series", 0, 5, 0) }),
        "remote write of a new series",
      );
      assertDiskFull(
        await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY, body: { name: "x" } }),
        "monitoring token creation",
      );
      assertDiskFull(
        await call(s, `${base}/monitoring/tokens/${spare.json.id}`, { method: "DELETE", token: ADMIN_KEY }),
        "monitoring token revocation",
      );
      assertDiskFull(
        await call(s, "/v1alpha5/ingest-tokens", { token: ADMIN_KEY, body: { name: "x" } }),
        "ingest token creation",
      );
      assertDiskFull(
        await call(s, `/v1alpha5/ingest-tokens/${ing.json.id}`, { method: "DELETE", token: ADMIN_KEY }),
        "ingest token revocation",
      );
      const metrics = (await call(s, "/metrics")).text;
      assert.match(metrics, /mim_remote_write_refused_total\{reason="disk_full"\} 2/);
      // The queue itself says why, as a StorageError the write route answers with 503.
      const app = s.appendable.appender();
      app.append(0, seriesLabels("m"), T + 45_000, 45);
      assert.throws(() => app.commit(), DiskFullError);
      // The gateway's flush: refused and logged, nothing thrown, its totals kept for the next one.
      const meter = new Meter({ now: () => T + 100_000 });
      const slot = meter.slot(PROJECT, "llama", "pt");
      meter.recordRequest(slot, 10, 20);
      const flushLogs: string[] = [];
      const refused = new Flusher(meter, s.appendable, {
        intervalMs: 0,
        now: () => T + 120_000,
        log: (m) => flushLogs.push(m),
      }).flush();
      assert.match(String(refused.error), /out of disk space/);
      assert.match(flushLogs.join("\n"), /gateway flush at \d+ failed: .*out of disk space/);
      // Give the shards time to hit the full disk with the queued rows: they keep them.
      await new Promise((r) => setTimeout(r, 1500));
      const held = s.remote?.status();
      assert.ok(held);
      assert.equal(held.queuedSamples + held.sentSamples, 20, JSON.stringify(held));
      assert.equal(held.failedSamples, 0, JSON.stringify(held));
      assert.match(logText(), /remote-write queue.*out of disk space/);
      // Reads are unaffected by the refused writes.
      assert.deepEqual(await series(s, monToken, "m"), range(0, 30, 0));
      const stillMon = await call(s, `${base}/monitoring/tokens`, { token: monToken });
      assert.equal(stillMon.status, 200, stillMon.text);

      // A clean stop on the full disk (no grace spent waiting for a queue that cannot move) and a
      // start on it again: the rows are still queued, and writes still refused.
      const stopAt = performance.now();
      await s.close();
      s = null;
      assert.ok(performance.now() - stopAt < 4000, `closing took ${performance.now() - stopAt} ms`);
      // Closing may have checkpointed and removed a WAL file, freeing its blocks: fill them too.
      fillDisk(join(dir, "filler2"));
      s = await startService(config);
      assert.equal(s.remote?.status().queuedSamples, 20);
      assert.equal((await call(s, "/-/healthy")).status, 200);
      assert.deepEqual(await series(s, monToken, "m"), range(0, 30, 0));
      assertDiskFull(
        await call(s, "/api/v1/write", { token: ingToken, raw: remoteWrite("m", 30, 10, 30) }),
        "remote write after a restart on the full disk",
      );
      const flusher = new Flusher(meter, s.appendable, {
        intervalMs: 0,
        now: () => T + 120_000,
        log: (m) => flushLogs.push(m),
      });
      assert.match(String(flusher.flush().error), /out of disk space/);

      // Space is freed: every write path works again without a restart, and the queue drains.
      unlinkSync(filler);
      unlinkSync(join(dir, "filler2"));
      assert.equal(
        (await call(s, "/api/v1/write", { token: ingToken, raw: remoteWrite("m", 30, 10, 30) })).status,
        204,
      );
      const later = await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY, body: { name: "later" } });
      assert.equal(later.status, 201, later.text);
      assert.equal(
        (await call(s, `${base}/monitoring/tokens/${spare.json.id}`, { method: "DELETE", token: ADMIN_KEY }))
          .status,
        204,
      );
      const ing2 = await call(s, "/v1alpha5/ingest-tokens", { token: ADMIN_KEY, body: { name: "ing2" } });
      assert.equal(ing2.status, 201, ing2.text);
      const flushed = flusher.flush();
      assert.equal(flushed.error, undefined);
      assert.ok(flushed.samples > 0);
      const t0 = performance.now();
      await drained(s);
      // Within a couple of seconds of the next write, not after a backoff grown during the outage.
      assert.ok(performance.now() - t0 < 3000, `drained after ${performance.now() - t0} ms`);
      assert.deepEqual(await series(s, monToken, "m"), range(0, 40, 0));
      assert.deepEqual(await series(s, String(later.json.token), "crashed"), range(0, 20, 100));
      assert.equal(s.remote?.status().failedSamples, 0);
      await s.close();
      s = null;

      // After a restart nothing is missing, and the queue works as before.
      s = await startService(config);
      assert.equal(s.remote?.status().queuedSamples, 0);
      assert.equal(
        (await call(s, "/api/v1/write", { token: String(ing2.json.token), raw: remoteWrite("m", 40, 5, 40) }))
          .status,
        204,
      );
      await drained(s);
      assert.deepEqual(await series(s, monToken, "m"), range(0, 45, 0));
      assert.deepEqual(await series(s, monToken, "crashed"), range(0, 20, 100));
      assert.deepEqual(await series(s, String(later.json.token), "crusoe_inference_request_count"), [
        "100:0",
        "120:1",
      ]);
      const tokens = (await call(s, `${base}/monitoring/tokens`, { token: ADMIN_KEY })).json.tokens as Array<{
        name: string;
      }>;
      assert.deepEqual(tokens.map((t) => t.name).sort(), ["later", "mon"]);
    } finally {
      await s?.close();
      unmountTmpfs(dir);
    }
  });
});
