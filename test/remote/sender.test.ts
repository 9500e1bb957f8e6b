/**
 * RemoteWriteStorage against a tiny remote-write receiver (node:http + our decoder) whose answers
 * each test scripts: ordering across shards, outages, lost answers, restarts, a full queue, refused
 * batches, Retry-After, and a SIGKILL of the committing process.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { RemoteWriteStorage, type RemoteWriteStorageOptions } from "../../src/remote/sender/index.js";
import {
  formatLabels,
  InvalidSampleLabelsError,
  InvalidTimestampError,
  InvalidValueError,
  labelsFromObject,
  labelsHash,
  SampleError,
  StaleNaN,
  StorageError,
} from "../../src/storage/index.js";
import { RemoteWriteReceiver } from "../support/remote-write-receiver.js";

const T0 = 1_700_000_000_000;

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "mim-rw-sender-"));
  dirs.push(d);
  return d;
}

async function receiver(port = 0): Promise<RemoteWriteReceiver> {
  const r = await new RemoteWriteReceiver().start(port);
  cleanups.push(() => r.stop());
  return r;
}

function open(o: Partial<RemoteWriteStorageOptions> & { url: string; dir: string }): RemoteWriteStorage {
  const s = new RemoteWriteStorage({ batchDeadlineMs: 5, minBackoffMs: 5, maxBackoffMs: 100, ...o });
  cleanups.push(() => s.close(0));
  return s;
}

const seriesLabels = (i: number) =>
  labelsFromObject({ __name__: "m", project_id: `p${i % 3}`, i: String(i) });
const key = (i: number) => formatLabels(seriesLabels(i));

/** Commits `rounds` batches, each with one sample per series at T0 + round·1 s. */
function commitRounds(s: RemoteWriteStorage, series: number, from: number, rounds: number): void {
  for (let k = from; k < from + rounds; k++) {
    const app = s.appender();
    for (let i = 0; i < series; i++) app.append(0, seriesLabels(i), T0 + k * 1000, k * 1000 + i);
    app.commit();
  }
}

/** Every series holds exactly rounds [0, rounds) in order. */
function assertComplete(r: RemoteWriteReceiver, series: number, rounds: number): void {
  const want = Array.from({ length: rounds }, (_, k) => T0 + k * 1000);
  for (let i = 0; i < series; i++) assert.deepEqual(r.times(key(i)), want, `series ${i}`);
  assert.equal(r.storedCount, series * rounds);
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("RemoteWriteStorage", () => {
  it("delivers every sample once and in order per series, across concurrent shards, with the headers", async () => {
    const r = await receiver();
    r.answer = () => ({ status: 204, delayMs: Math.random() * 8 });
    const s = open({
      url: r.url,
      dir: tempDir(),
      shards: 4,
      maxSamplesPerRequest: 100,
      bearerToken: "tok",
      headers: { "X-Scope-OrgID": "tenant-1" },
    });
    commitRounds(s, 120, 0, 20);
    assert.ok(await s.drain(10_000));
    assertComplete(r, 120, 20);
    assert.ok(r.maxInFlight >= 2 && r.maxInFlight <= 4, `max in flight ${r.maxInFlight}`);
    for (const q of r.requests) {
      assert.ok(q.samples.length <= 100);
      assert.equal(q.headers["content-encoding"], "snappy");
      assert.equal(q.headers["content-type"], "application/x-protobuf");
      assert.equal(q.headers["x-prometheus-remote-write-version"], "0.1.0");
      assert.equal(q.headers.authorization, "Bearer tok");
      assert.equal(q.headers["x-scope-orgid"], "tenant-1");
    }
    const st = s.status();
    assert.equal(st.sentSamples, 2400);
    assert.equal(st.queuedSamples, 0);
    assert.equal(st.queuedBytes > 0, true, "labels of recently used series stay queued until swept");
    assert.equal(st.failedSamples + st.retries, 0);
  });

  it("keeps shards independent: a series stuck in retries holds up only its own shard", async () => {
    const r = await receiver();
    let stuck = true;
    r.answer = (q) => (stuck && q.samples.some((g) => g.key === key(0)) ? { status: 503 } : { status: 204 });
    const s = open({ url: r.url, dir: tempDir(), shards: 4, maxSamplesPerRequest: 30 });
    commitRounds(s, 40, 0, 10);
    // Everything outside series 0's shard gets through while that shard retries.
    const shardOf = (i: number) => labelsHash(seriesLabels(i)) % 4;
    const blocked = Array.from({ length: 40 }, (_, i) => i).filter((i) => shardOf(i) === shardOf(0));
    await until(() => s.status().queuedSamples === blocked.length * 10 && s.status().retries > 3);
    for (let i = 0; i < 40; i++)
      assert.equal(r.times(key(i)).length, blocked.includes(i) ? 0 : 10, `series ${i}`);
    stuck = false;
    assert.ok(await s.drain(5000));
    assertComplete(r, 40, 10);
  });

  it("gathers small commits until the batch deadline, but sends a full request at once", async () => {
    const r = await receiver();
    const s = open({ url: r.url, dir: tempDir(), shards: 1, maxSamplesPerRequest: 50, batchDeadlineMs: 400 });
    const started = performance.now();
    commitRounds(s, 5, 0, 4); // 20 samples: waits for the deadline
    await until(() => r.requests.length === 1);
    // A lower bound only: the deadline's timer does not fire early, however busy the machine.
    assert.ok(r.requests[0].at - started >= 390, `sent after ${r.requests[0].at - started} ms`);
    assert.equal(r.requests[0].samples.length, 20);
    // With a deadline no test waits for, commits that fill a request go out at once, in one piece
    // (no upper time bound on real timers: the request arriving at all shows it did not wait).
    const r2 = await receiver();
    const s2 = open({
      url: r2.url,
      dir: tempDir(),
      shards: 1,
      maxSamplesPerRequest: 50,
      batchDeadlineMs: 3_600_000,
    });
    commitRounds(s2, 5, 0, 4); // 20 samples
    commitRounds(s2, 30, 4, 1); // 30 more: the request is full
    await until(() => s2.status().sentSamples === 50);
    assert.deepEqual(
      r2.requests.map((q) => q.samples.length),
      [50],
    );
  });

  it("validates like the store: bad labels and timestamps are SampleErrors, the rest of the batch stays", async () => {
    const r = await receiver();
    const s = open({ url: r.url, dir: tempDir(), basicAuth: { username: "u", password: "p" } });
    const app = s.appender();
    // Unsorted with an empty value: normalised before it is sent.
    const ref = app.append(
      0,
      [
        { name: "z", value: "1" },
        { name: "a", value: "" },
        { name: "__name__", value: "x" },
      ],
      5,
      1,
    );
    assert.throws(
      () =>
        app.append(
          0,
          [
            { name: "a", value: "1" },
            { name: "a", value: "2" },
          ],
          6,
          1,
        ),
      InvalidSampleLabelsError,
    );
    assert.throws(() => app.append(0, [], 6, 1), SampleError);
    assert.throws(() => app.append(ref, [], 6.5, 1), InvalidTimestampError);
    assert.throws(() => app.append(ref, [], 2 ** 52, 1), InvalidTimestampError);
    assert.throws(() => app.append(ref, [], 7, "1" as unknown as number), InvalidValueError);
    assert.equal(app.append(ref, [], 8, StaleNaN), ref, "a known ref needs no labels");
    assert.deepEqual(app.commit(), { samples: 2, outOfOrder: 0 });
    assert.ok(await s.drain(5000));
    const got = r.stored.get(formatLabels(labelsFromObject({ __name__: "x", z: "1" })));
    assert.deepEqual(
      got?.map((g) => [g.t, g.stale]),
      [
        [5, false],
        [8, true],
      ],
    );
    assert.equal(r.requests[0].headers.authorization, `Basic ${Buffer.from("u:p").toString("base64")}`);
    // Rolled back and empty batches queue nothing.
    const rb = s.appender();
    rb.append(0, seriesLabels(1), 1, 1);
    rb.rollback();
    assert.deepEqual(s.appender().commit(), { samples: 0, outOfOrder: 0 });
    assert.equal(s.status().queuedSamples, 0);
  });

  it("rides out an engine outage (refused connections, then 503s): nothing lost, nothing twice", async () => {
    const r = await receiver();
    const port = r.port;
    await r.stop();
    const logs: string[] = [];
    const s = open({
      url: `http://127.0.0.1:${port}/api/v1/write`,
      dir: tempDir(),
      log: (m) => logs.push(m),
    });
    commitRounds(s, 50, 0, 5);
    await until(() => s.status().retries >= 3);
    const down = s.status();
    assert.ok(down.unreachableSince !== null && down.queuedSamples === 250);
    assert.match(down.lastError?.message ?? "", /ECONNREFUSED/);
    assert.ok(down.oldestQueuedTimestamp === T0 && down.oldestEnqueuedAt !== null);
    const back = await receiver(port);
    let refusals = 3;
    back.answer = () => (refusals-- > 0 ? { status: 503 } : { status: 204 });
    commitRounds(s, 50, 5, 5);
    assert.ok(await s.drain(10_000));
    assertComplete(back, 50, 10);
    assert.equal(s.status().unreachableSince, null);
    assert.ok(
      logs.some((l) => /failing since/.test(l)) && logs.some((l) => /works again/.test(l)),
      logs.join("\n"),
    );
  });

  it("is at-least-once: a request whose answer is lost is resent whole, byte for byte", async () => {
    const r = await receiver();
    r.answer = (_q, n) => (n === 0 ? { status: 500, store: true } : { status: 204 });
    const s = open({ url: r.url, dir: tempDir(), shards: 1, maxSamplesPerRequest: 40 });
    commitRounds(s, 20, 0, 4);
    assert.ok(await s.drain(5000));
    assert.deepEqual(r.requests[1].samples, r.requests[0].samples, "the retry repeats the request");
    // The only duplicates are that first request's samples, identical in time and value.
    const firstKeys = new Set(r.requests[0].samples.map((g) => `${g.key}@${g.t}=${g.v}`));
    let dupes = 0;
    for (const [k, list] of r.stored) {
      const seen = new Set<string>();
      for (const g of list) {
        const id = `${k}@${g.t}=${g.v}`;
        if (seen.has(id)) {
          assert.ok(firstKeys.has(id));
          dupes++;
        }
        seen.add(id);
      }
    }
    assert.equal(dupes, 40);
  });

  it("keeps what it could not send on disk across close and reopen, and refuses a second instance", async () => {
    const r = await receiver();
    r.answer = () => ({ status: 503 });
    const dir = tempDir();
    const s1 = open({ url: r.url, dir, shards: 2 });
    commitRounds(s1, 30, 0, 6);
    assert.throws(
      () => new RemoteWriteStorage({ url: r.url, dir }),
      (e: Error) => e instanceof StorageError && /in use/.test(e.message),
    );
    await until(() => s1.status().retries > 0);
    await s1.close(50);
    const late = s1.appender();
    late.append(0, seriesLabels(0), T0, 1);
    assert.throws(() => late.commit(), StorageError);
    // The engine is back (at another address: a request s1 abandoned mid-way may still reach the
    // first receiver, which must not count it — that would be a legitimate at-least-once repeat).
    const up = await receiver();
    // Reopened with another shard count: the queued rows keep theirs until the queue drains.
    const s2 = open({ url: up.url, dir, shards: 3 });
    assert.equal(s2.status().shards, 2);
    assert.equal(s2.status().queuedSamples, 180);
    commitRounds(s2, 30, 6, 2);
    assert.ok(await s2.drain(5000));
    assertComplete(up, 30, 8);
    await s2.close();
    const s3 = open({ url: up.url, dir, shards: 3 });
    assert.equal(s3.status().shards, 3);
  });

  it("after a restart resends the request that was on the wire alone, never mixed with newer rows", async () => {
    const r = await receiver();
    r.answer = (_q, n) => (n === 0 ? { status: 0, hang: true, store: true } : { status: 204 });
    const dir = tempDir();
    const s1 = open({ url: r.url, dir, shards: 1, maxSamplesPerRequest: 25 });
    commitRounds(s1, 25, 0, 1);
    await until(() => r.requests.length === 1);
    commitRounds(s1, 25, 1, 2); // queued behind the hanging request
    await s1.close(100);
    const s2 = open({ url: r.url, dir, shards: 1, maxSamplesPerRequest: 100 });
    assert.ok(await s2.drain(5000));
    assert.deepEqual(r.requests[1].samples, r.requests[0].samples, "the in-flight request, alone");
    assert.equal(r.requests[2].samples.length, 50);
    assert.equal(r.storedCount, 100);
  });

  it("when full, commit throws StorageError naming the engine and queues nothing; then recovers", async () => {
    const r = await receiver();
    r.answer = () => ({ status: 503 });
    const s = open({ url: r.url, dir: tempDir(), maxQueueSamples: 100 });
    commitRounds(s, 60, 0, 1);
    await until(() => s.status().unreachableSince !== null);
    assert.throws(
      () => commitRounds(s, 60, 1, 1),
      (e: Error) =>
        e instanceof StorageError &&
        /^remote-write queue full: the engine at http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write has been unreachable since \d{4}-/.test(
          e.message,
        ),
    );
    assert.equal(s.status().queuedSamples, 60);
    // An engine that takes requests but never answers is "not keeping up" rather than unreachable.
    const slow = await receiver();
    slow.answer = () => ({ status: 0, hang: true });
    const small = open({ url: slow.url, dir: tempDir(), maxQueueBytes: 2_000 });
    commitRounds(small, 10, 0, 1);
    assert.throws(() => commitRounds(small, 10, 1, 10), /remote-write queue full: .* is not keeping up/);
    r.answer = () => ({ status: 204 });
    assert.ok(await s.drain(5000));
    commitRounds(s, 60, 1, 1);
    assert.ok(await s.drain(5000));
    assertComplete(r, 60, 2);
  });

  it("drops a batch the engine refuses with a 4xx, counts and logs it, and goes on", async () => {
    const r = await receiver();
    r.answer = (_q, n) => (n === 0 ? { status: 400, body: "out of order sample\n" } : { status: 204 });
    const logs: string[] = [];
    const s = open({ url: r.url, dir: tempDir(), shards: 1, log: (m) => logs.push(m) });
    commitRounds(s, 10, 0, 1);
    await until(() => r.requests.length === 1);
    commitRounds(s, 10, 1, 1);
    assert.ok(await s.drain(5000));
    const st = s.status();
    assert.deepEqual([st.failedRequests, st.failedSamples, st.sentSamples, st.retries], [1, 10, 10, 0]);
    assert.equal(st.lastError?.message, "HTTP 400: out of order sample");
    assert.equal(r.requests.length, 2);
    assert.ok(logs.some((l) => /refused 10 samples for good.*HTTP 400/.test(l)));
  });

  it("honours Retry-After on 429 and 503", async () => {
    const r = await receiver();
    r.answer = (_q, n) =>
      n === 0
        ? { status: 429, headers: { "Retry-After": "1" } }
        : n === 1
          ? { status: 503, headers: { "Retry-After": "1" } }
          : { status: 204 };
    const s = open({ url: r.url, dir: tempDir(), shards: 1, minBackoffMs: 1 });
    commitRounds(s, 5, 0, 1);
    assert.ok(await s.drain(5000));
    const [a, b, c] = r.requests.map((q) => q.at);
    assert.ok(b - a >= 950 && c - b >= 950, `gaps ${b - a} ms, ${c - b} ms`);
    assert.equal(s.status().retries, 2);
  });

  it("forgets idle series once they left the queue, and revives one an appender still holds", async () => {
    const r = await receiver();
    let now = T0;
    const s = open({ url: r.url, dir: tempDir(), seriesIdleMs: 1000, now: () => now });
    commitRounds(s, 10, 0, 1);
    const held = s.appender();
    const ref = held.append(0, seriesLabels(0), T0 + 5000, 1);
    assert.ok(await s.drain(5000));
    now += 2000;
    s.sweep();
    assert.equal(s.status().series, 0);
    assert.equal(s.status().queuedBytes, 0);
    held.commit(); // its series was forgotten meanwhile: registered again under the same ref
    const next = s.appender();
    assert.equal(next.append(ref, [], T0 + 6000, 2), ref, "the ref names the series again");
    next.commit();
    assert.ok(await s.drain(5000));
    assert.deepEqual(r.times(key(0)), [T0, T0 + 5000, T0 + 6000]);
  });

  it("loses nothing acknowledged when the committing process is killed", async () => {
    const r = await receiver();
    const dir = tempDir();
    // The child commits against a port nothing listens on, reporting each acknowledged commit.
    const script = `
      import { RemoteWriteStorage } from ${JSON.stringify(join(process.cwd(), "src/remote/sender/index.ts"))};
      const s = new RemoteWriteStorage({ url: "http://127.0.0.1:9/api/v1/write", dir: ${JSON.stringify(dir)} });
      for (let k = 0; ; k++) {
        const app = s.appender();
        for (let i = 0; i < 40; i++) app.append(0, [{ name: "__name__", value: "m" }, { name: "i", value: String(i) }], ${T0} + k * 1000, k);
        app.commit();
        process.stdout.write("committed " + k + "\\n");
        await new Promise((r) => setTimeout(r, 2));
      }`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += String(d);
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await until(() => (out.match(/committed/g) ?? []).length >= 30, 15_000);
    child.kill("SIGKILL");
    await exited;
    const acknowledged = (out.match(/committed \d+\n/g) ?? []).length;
    const s = open({ url: r.url, dir });
    assert.ok(await s.drain(5000));
    for (let i = 0; i < 40; i++) {
      const times = r.times(formatLabels(labelsFromObject({ __name__: "m", i: String(i) })));
      assert.ok(times.length >= acknowledged, `series ${i}: ${times.length} < ${acknowledged}`);
      assert.deepEqual(
        times,
        Array.from({ length: times.length }, (_, k) => T0 + k * 1000),
      );
    }
  });
});
