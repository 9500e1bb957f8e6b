/**
 * Tenant-per-project mode of RemoteWriteStorage (option `tenant`) against a loopback remote-write
 * receiver that decodes every request and records its url, headers and series: one tenant per
 * request in header mode (Mimir/Cortex/Thanos) and URL mode (VictoriaMetrics cluster), series that
 * belong to no tenant, per-tenant refusals and retries, the concurrent parts of one request (one
 * tenant's outage does not delay the others' parts; the bound on parts in flight), the exact resend
 * after a restart, and the option's checks.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  buildWriteRequest,
  decodeLabelFields,
  encodeLabelFields,
  RemoteWriteStorage,
  type RemoteWriteStorageOptions,
  tenantIdProblem,
} from "../../src/remote/sender/index.js";
import { encodeGroups, groupBySeries } from "../../src/remote/sender/wire.js";
import { formatLabels, type Labels, labelsFromObject } from "../../src/storage/index.js";
import { RemoteWriteReceiver } from "../support/remote-write-receiver.js";

const T0 = 1_700_000_000_000;
/** Three projects, their ids using the whole tenant-id alphabet. */
const PROJECTS = ["acme", "team-b.prod_1", "x!*'(y)"];

/**
 * Holds every answer back until `n` requests wait at once (or the `total` expected have all come),
 * then answers them together: the sender's bound on parts in flight is then reached for certain,
 * whatever the machine's speed, and is exceeded only if the sender breaks it.
 */
function answerInGroups(r: RemoteWriteReceiver, n: number, total: number): void {
  const held: Array<() => void> = [];
  let seen = 0;
  r.answer = () => {
    seen++;
    const after = new Promise<void>((resolve) => held.push(resolve));
    if (held.length === n || seen === total) {
      for (const release of held.splice(0)) release();
    }
    return { status: 204, after };
  };
}

const dirs: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "mim-rw-tenant-"));
  dirs.push(d);
  return d;
}

async function receiver(): Promise<RemoteWriteReceiver> {
  const r = await new RemoteWriteReceiver().start();
  cleanups.push(() => r.stop());
  return r;
}

function open(o: Partial<RemoteWriteStorageOptions> & { url: string; dir: string }): RemoteWriteStorage {
  const s = new RemoteWriteStorage({ batchDeadlineMs: 5, minBackoffMs: 5, maxBackoffMs: 50, ...o });
  cleanups.push(() => s.close(0));
  return s;
}

const HEADER_MODE = { label: "project_id", header: "X-Scope-OrgID" };

const seriesLabels = (i: number): Labels =>
  labelsFromObject({ __name__: "m", project_id: PROJECTS[i % 3], i: String(i) });
const key = (i: number) => formatLabels(seriesLabels(i));

/** Commits `rounds` batches, each with one sample per series at T0 + round·1 s. */
function commitRounds(
  s: RemoteWriteStorage,
  series: number,
  from: number,
  rounds: number,
  extra: Labels[] = [],
) {
  for (let k = from; k < from + rounds; k++) {
    const app = s.appender();
    for (let i = 0; i < series; i++) app.append(0, seriesLabels(i), T0 + k * 1000, k * 1000 + i);
    for (const l of extra) app.append(0, l, T0 + k * 1000, k);
    app.commit();
  }
}

/** Every series holds exactly rounds [from, rounds) once, in order (series `skip` excepted). */
function assertComplete(
  r: RemoteWriteReceiver,
  series: number,
  rounds: number,
  skip: (i: number) => boolean = () => false,
) {
  const want = Array.from({ length: rounds }, (_, k) => T0 + k * 1000);
  let n = 0;
  for (let i = 0; i < series; i++) {
    if (skip(i)) {
      assert.deepEqual(r.times(key(i)), [], `series ${i} must not arrive`);
      continue;
    }
    assert.deepEqual(r.times(key(i)), want, `series ${i}`);
    n += rounds;
  }
  assert.equal(r.storedCount, n);
}

/** Each request holds the series of the one tenant it is addressed to. */
function assertOneTenantPerRequest(r: RemoteWriteReceiver): void {
  assert.ok(r.requests.length > 0);
  for (const q of r.requests) {
    assert.ok(q.samples.length > 0, "no empty requests");
    assert.ok(PROJECTS.includes(q.tenant), `addressed to ${q.tenant}`);
    for (const g of q.samples) assert.equal(g.project, q.tenant, `${g.key} sent to tenant ${q.tenant}`);
  }
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("RemoteWriteStorage in tenant-per-project mode", () => {
  it("header mode: every request carries one tenant's series and its X-Scope-OrgID; all delivered once, in order", async () => {
    const r = await receiver();
    const s = open({
      url: `${r.base}/api/v1/push`,
      dir: tempDir(),
      shards: 4,
      maxSamplesPerRequest: 50,
      bearerToken: "tok",
      tenant: HEADER_MODE,
    });
    commitRounds(s, 90, 0, 12);
    assert.ok(await s.drain(8000));
    assertComplete(r, 90, 12);
    assertOneTenantPerRequest(r);
    for (const q of r.requests) {
      assert.equal(q.url, "/api/v1/push");
      assert.equal(q.headers.authorization, "Bearer tok");
      assert.equal(q.headers["content-encoding"], "snappy");
      assert.ok(q.samples.length <= 50);
    }
    const st = s.status();
    assert.deepEqual([st.sentSamples, st.failedSamples, st.retries, st.queuedSamples], [1080, 0, 0, 0]);
    assert.equal(st.sentRequests, r.requests.length);
    assert.deepEqual(st.tenants, {
      [PROJECTS[0]]: { sentSamples: 360, failedSamples: 0, retries: 0 },
      [PROJECTS[1]]: { sentSamples: 360, failedSamples: 0, retries: 0 },
      [PROJECTS[2]]: { sentSamples: 360, failedSamples: 0, retries: 0 },
    });
  });

  it("URL mode: the {tenant} placeholder in the path names the tenant; no tenant header", async () => {
    const r = await receiver();
    const s = open({
      url: `${r.base}/insert/{tenant}/prometheus/api/v1/write`,
      dir: tempDir(),
      shards: 2,
      maxSamplesPerRequest: 40,
      tenant: { label: "project_id" },
    });
    assert.equal(s.status().url, `${r.base}/insert/{tenant}/prometheus/api/v1/write`);
    commitRounds(s, 30, 0, 8);
    assert.ok(await s.drain(8000));
    assertComplete(r, 30, 8);
    assertOneTenantPerRequest(r);
    for (const q of r.requests) {
      assert.equal(q.url, `/insert/${encodeURIComponent(q.tenant)}/prometheus/api/v1/write`);
      assert.equal(q.headers["x-scope-orgid"], undefined);
    }
    assert.equal(s.status().sentSamples, 240);
  });

  it("splits one shard's request into one part per tenant, each series' samples together; all parts arrive", async () => {
    const sorted = [...PROJECTS].sort();
    for (const concurrency of [undefined, 1]) {
      const r = await receiver();
      const s = open({
        url: `${r.base}/api/v1/push?tenant={tenant}`,
        dir: tempDir(),
        shards: 1,
        maxSamplesPerRequest: 30,
        tenant: { ...HEADER_MODE, concurrency },
      });
      commitRounds(s, 30, 0, 2);
      assert.ok(await s.drain(5000));
      // 2 requests of 30 samples (10 per tenant), each split in three: the parts of the first
      // request all arrive before any of the second (built only once the first is done).
      const tenants = r.requests.map((q) => q.tenant);
      if (concurrency === 1)
        assert.deepEqual(tenants, [...sorted, ...sorted], "one at a time, in tenant-id order");
      else {
        assert.deepEqual([...tenants.slice(0, 3)].sort(), sorted);
        assert.deepEqual([...tenants.slice(3)].sort(), sorted);
      }
      for (const [n, q] of r.requests.entries()) {
        assert.equal(q.samples.length, 10);
        assert.ok(q.samples.every((g) => g.project === q.tenant && g.t === T0 + (n < 3 ? 0 : 1000)));
        assert.equal(new URL(q.url, r.base).searchParams.get("tenant"), q.tenant);
      }
      assertComplete(r, 30, 2);
    }
  });

  it("drops and reports series without the label or with an invalid tenant id; delivers the others", async () => {
    const r = await receiver();
    const logs: string[] = [];
    const s = open({
      url: `${r.base}/api/v1/push`,
      dir: tempDir(),
      shards: 2,
      tenant: HEADER_MODE,
      log: (m) => logs.push(m),
    });
    const bad = [
      labelsFromObject({ __name__: "m", i: "no-project" }),
      labelsFromObject({ __name__: "m", project_id: "a/b" }),
      labelsFromObject({ __name__: "m", project_id: ".." }),
      labelsFromObject({ __name__: "m", project_id: "p".repeat(151) }),
    ];
    commitRounds(s, 12, 0, 3, bad);
    // A batch of nothing but such series commits (they are dropped, not refused).
    const only = s.appender();
    only.append(0, bad[0], T0 + 5000, 1);
    assert.deepEqual(only.commit(), { samples: 1, outOfOrder: 0 });
    assert.ok(await s.drain(5000));
    assertComplete(r, 12, 3);
    assertOneTenantPerRequest(r);
    const st = s.status();
    assert.deepEqual([st.sentSamples, st.failedSamples, st.failedRequests], [36, 13, 0]);
    assert.equal(Object.keys(st.tenants ?? {}).length, 3, "invalid ids are no tenants");
    assert.match(st.lastError?.message ?? "", /has no label "project_id"/);
    // One line per commit that brings series not reported before: the first commit only.
    const lines = logs.filter((l) => /belong to no tenant/.test(l));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0],
      /\(4 in this batch\).*\{"__name__"="m", "i"="no-project"\} has no label "project_id", so it belongs to no tenant \(and 3 more series\)/,
    );
    // The reasons, by id.
    assert.match(tenantIdProblem("a/b") ?? "", /contains "\/"/);
    assert.match(tenantIdProblem("..") ?? "", /"\." and "\.\." are not allowed/);
    assert.match(tenantIdProblem("p".repeat(151)) ?? "", /longer than 150 characters/);
    assert.match(tenantIdProblem("ä") ?? "", /contains "ä"/);
    assert.match(tenantIdProblem("a:b") ?? "", /contains ":"/);
    for (const ok of [...PROJECTS, "p".repeat(150), "0", "..."]) assert.equal(tenantIdProblem(ok), null, ok);
  });

  it("one tenant's 400 drops only that tenant's samples; the others are delivered", async () => {
    const r = await receiver();
    const logs: string[] = [];
    r.answer = (q) => (q.tenant === PROJECTS[1] ? { status: 400 } : { status: 204 });
    const s = open({
      url: `${r.base}/api/v1/push`,
      dir: tempDir(),
      shards: 2,
      maxSamplesPerRequest: 30,
      tenant: HEADER_MODE,
      log: (m) => logs.push(m),
    });
    commitRounds(s, 30, 0, 6);
    assert.ok(await s.drain(5000));
    assertComplete(r, 30, 6, (i) => i % 3 === 1);
    const st = s.status();
    assert.deepEqual([st.sentSamples, st.failedSamples, st.retries], [120, 60, 0]);
    assert.deepEqual(st.tenants?.[PROJECTS[1]], { sentSamples: 0, failedSamples: 60, retries: 0 });
    assert.equal(st.failedRequests, r.requests.filter((q) => q.status === 400).length);
    assert.equal(st.lastError?.message, `tenant "${PROJECTS[1]}": HTTP 400: refused for ${PROJECTS[1]}`);
    assert.ok(logs.some((l) => /refused \d+ samples for good.*tenant "team-b\.prod_1": HTTP 400/.test(l)));
  });

  it("one tenant's 503s are retried on their own until delivered; no sample of any tenant is lost or doubled", async () => {
    const r = await receiver();
    let refusals = 4;
    r.answer = (q) => (q.tenant === PROJECTS[1] && refusals-- > 0 ? { status: 503 } : { status: 204 });
    const s = open({
      url: `${r.base}/insert/{tenant}/api/v1/write`,
      dir: tempDir(),
      shards: 1,
      maxSamplesPerRequest: 30,
      tenant: { label: "project_id", header: "THANOS-TENANT" },
    });
    commitRounds(s, 30, 0, 4);
    assert.ok(await s.drain(5000));
    assertComplete(r, 30, 4);
    // The first request: its three parts at once, the first and third delivered, the second
    // retried on its own until delivered; only then the next request.
    const first = r.requests.slice(0, 7);
    const byTenant = (t: string) => first.filter((q) => q.tenant === t);
    assert.deepEqual(
      first
        .slice(0, 3)
        .map((q) => q.tenant)
        .sort(),
      [...PROJECTS].sort(),
    );
    assert.deepEqual(
      byTenant(PROJECTS[0]).map((q) => q.status),
      [204],
    );
    assert.deepEqual(
      byTenant(PROJECTS[2]).map((q) => q.status),
      [204],
    );
    assert.deepEqual(
      byTenant(PROJECTS[1]).map((q) => q.status),
      [503, 503, 503, 503, 204],
    );
    assert.ok(
      first.every((q) => q.samples.every((g) => g.t === T0)),
      "nothing of the next request",
    );
    for (const q of r.requests) assert.equal(q.headers["thanos-tenant"], q.tenant);
    for (const q of byTenant(PROJECTS[1]))
      assert.deepEqual(q.samples, byTenant(PROJECTS[1])[0].samples, "retried as it was");
    const st = s.status();
    assert.deepEqual([st.sentSamples, st.failedSamples, st.retries], [120, 0, 4]);
    assert.equal(st.tenants?.[PROJECTS[1]].retries, 4);
  });

  it("while one tenant answers 503, the other tenants' parts of the same request are delivered; its own arrive once it recovers", async () => {
    const r = await receiver();
    const down = PROJECTS[1];
    let refusing = true;
    r.answer = (q) => (q.tenant === down && refusing ? { status: 503 } : { status: 204 });
    const s = open({
      url: `${r.base}/api/v1/push`,
      dir: tempDir(),
      shards: 1,
      maxSamplesPerRequest: 90,
      tenant: HEADER_MODE,
    });
    const others = (i: number) => PROJECTS[i % 3] !== down;
    commitRounds(s, 30, 0, 3); // one request: 3 rounds of 30 series, 30 samples per tenant
    // The other tenants' parts are delivered while `down` keeps refusing its part.
    await until(() => {
      for (let i = 0; i < 30; i++) if (others(i) && r.times(key(i)).length < 3) return false;
      return r.requests.filter((q) => q.tenant === down).length >= 3;
    });
    assert.ok(refusing);
    for (let i = 0; i < 30; i++) {
      assert.deepEqual(r.times(key(i)), others(i) ? [T0, T0 + 1000, T0 + 2000] : [], `series ${i}`);
    }
    // The shard's next request waits for the refused part (per-series order), for every tenant.
    commitRounds(s, 30, 3, 2);
    await new Promise((res) => setTimeout(res, 50));
    assert.ok(
      r.requests.every((q) => q.samples.every((g) => g.t < T0 + 3000)),
      "no newer request yet",
    );
    assert.equal(s.status().queuedSamples, 150);
    refusing = false;
    assert.ok(await s.drain(5000));
    assertComplete(r, 30, 5);
    const refusals = r.requests.filter((q) => q.status === 503);
    assert.ok(refusals.every((q) => q.tenant === down));
    for (const q of refusals) assert.deepEqual(q.samples, refusals[0].samples, "retried as it was");
    const st = s.status();
    assert.deepEqual([st.sentSamples, st.failedSamples, st.retries], [150, 0, refusals.length]);
    assert.equal(st.sentRequests, r.requests.length - refusals.length);
    assert.deepEqual(st.tenants, {
      [PROJECTS[0]]: { sentSamples: 50, failedSamples: 0, retries: 0 },
      [PROJECTS[1]]: { sentSamples: 50, failedSamples: 0, retries: refusals.length },
      [PROJECTS[2]]: { sentSamples: 50, failedSamples: 0, retries: 0 },
    });
  });

  it("keeps at most tenant.concurrency parts of a shard's request on the wire; stopping cuts them all off", async () => {
    const tenants = 20;
    const labelsOf = (j: number, k: number) =>
      labelsFromObject({ __name__: "m", project_id: `p${j}`, k: String(k) });
    const commit = (s: RemoteWriteStorage, round: number) => {
      const app = s.appender();
      for (let j = 0; j < tenants; j++) {
        for (let k = 0; k < 2; k++) app.append(0, labelsOf(j, k), T0 + round * 1000, round);
      }
      app.commit();
    };
    const r1 = await receiver();
    answerInGroups(r1, 3, tenants);
    const dir = tempDir();
    const s1 = open({
      url: `${r1.base}/api/v1/push`,
      dir,
      shards: 1,
      maxSamplesPerRequest: 1000,
      tenant: { ...HEADER_MODE, concurrency: 3 },
    });
    commit(s1, 0);
    assert.ok(await s1.drain(5000));
    assert.equal(r1.requests.length, tenants, "one part per tenant");
    assert.equal(r1.maxInFlight, 3);
    // Parts that are never answered: three on the wire, no more; close cuts them all off.
    r1.answer = () => ({ status: 0, hang: true });
    commit(s1, 1);
    await until(() => r1.inFlight === 3);
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(r1.requests.length, tenants + 3);
    // The hung parts never answer, so waiting for them would never end: a generous race tells
    // the two apart without timing close() itself.
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      s1.close(0).then(() => "closed"),
      new Promise((res) => {
        timer = setTimeout(() => res("still waiting"), 10_000);
      }),
    ]);
    clearTimeout(timer);
    assert.equal(outcome, "closed", "close does not wait for the hung parts");
    await until(() => r1.cutOff === 3 && r1.inFlight === 0);
    // The default bound, on the rows left queued.
    const r2 = await receiver();
    answerInGroups(r2, 8, tenants);
    const s2 = open({ url: `${r2.base}/api/v1/push`, dir, shards: 1, tenant: HEADER_MODE });
    assert.equal(s2.status().queuedSamples, 2 * tenants);
    assert.ok(await s2.drain(5000));
    assert.equal(r2.maxInFlight, 8);
    assert.equal(r2.requests.length, tenants);
    for (let j = 0; j < tenants; j++) {
      for (let k = 0; k < 2; k++) assert.deepEqual(r2.times(formatLabels(labelsOf(j, k))), [T0 + 1000]);
    }
    const st = s2.status();
    assert.deepEqual([st.sentSamples, st.sentRequests, st.retries], [2 * tenants, tenants, 0]);
    assert.equal(Object.keys(st.tenants ?? {}).length, tenants);
  });

  it("after a restart resends exactly the parts of the rows on the wire, then the newer rows", async () => {
    const r = await receiver();
    const sorted = [...PROJECTS].sort();
    // The first request: two tenants' parts delivered, the middle tenant's taken but never answered.
    r.answer = (q) =>
      q.tenant === sorted[1] && r.requests.length < 3
        ? { status: 0, hang: true, store: true }
        : { status: 204 };
    const dir = tempDir();
    const s1 = open({
      url: `${r.base}/api/v1/push`,
      dir,
      shards: 1,
      maxSamplesPerRequest: 30,
      tenant: HEADER_MODE,
    });
    commitRounds(s1, 30, 0, 1);
    await until(() => r.requests.length === 3 && s1.status().sentSamples === 20);
    commitRounds(s1, 30, 1, 2); // queued behind the request on the wire
    await s1.close(100);
    assert.deepEqual(r.requests.map((q) => q.tenant).sort(), sorted);
    await until(() => r.cutOff === 1); // the unanswered part, cut off by close
    const s2 = open({
      url: `${r.base}/api/v1/push`,
      dir,
      shards: 1,
      maxSamplesPerRequest: 90,
      tenant: HEADER_MODE,
    });
    assert.ok(await s2.drain(5000));
    const q = r.requests;
    const before = q.slice(0, 3);
    const again = q.slice(3, 6);
    assert.deepEqual(again.map((x) => x.tenant).sort(), sorted, "the recorded rows' parts, one per tenant");
    for (const x of again) {
      const was = before.find((b) => b.tenant === x.tenant);
      assert.deepEqual(x.samples, was?.samples, `tenant ${x.tenant}: its part again, identical`);
      assert.equal(x.samples.length, 10);
      assert.ok(x.samples.every((g) => g.t === T0));
    }
    // Then the newer rows, together (up to 90 samples), split per tenant.
    assert.deepEqual(
      q
        .slice(6)
        .map((x) => [x.tenant, x.samples.length])
        .sort(),
      sorted.map((t) => [t, 20]),
    );
    // The only duplicates: the three parts resent after the restart.
    assert.equal(r.storedCount, 30 + 90);
    for (let i = 0; i < 30; i++) {
      assert.deepEqual(r.times(key(i)), [T0, T0, T0 + 1000, T0 + 2000], `series ${i}`);
    }
  });

  it("splits rows an earlier process queued without tenant mode, dropping the series without a tenant", async () => {
    const r = await receiver();
    r.answer = () => ({ status: 503 });
    const dir = tempDir();
    const s1 = open({ url: `${r.base}/insert/0/api/v1/write`, dir, shards: 2 });
    const orphan = labelsFromObject({ __name__: "m", i: "orphan" });
    commitRounds(s1, 15, 0, 3, [orphan]);
    await until(() => s1.status().retries > 0);
    await s1.close(0);
    const up = await receiver();
    const logs: string[] = [];
    const s2 = open({
      url: `${up.base}/insert/{tenant}/api/v1/write`,
      dir,
      shards: 2,
      tenant: { label: "project_id" },
      log: (m) => logs.push(m),
    });
    commitRounds(s2, 15, 3, 1, [orphan]);
    assert.ok(await s2.drain(5000));
    assertComplete(up, 15, 4);
    assertOneTenantPerRequest(up);
    const st = s2.status();
    assert.deepEqual([st.sentSamples, st.failedSamples], [60, 4]);
    // Once for the earlier process's series (when sent), once for this one's (at commit).
    assert.equal(
      logs.filter((l) => /i"="orphan"\} has no label "project_id"/.test(l)).length,
      2,
      logs.join("\n"),
    );
  });

  it("encodes each tenant's part of a request as buildWriteRequest encodes its samples alone", () => {
    const fields = Array.from({ length: 9 }, (_, i) => encodeLabelFields(seriesLabels(i)));
    const n = 200;
    const cols = { ids: new Float64Array(n), ts: new Float64Array(n), vs: new Float64Array(n), count: n };
    for (let i = 0; i < n; i++) {
      cols.ids[i] = (i * 7) % 9;
      cols.ts[i] = T0 + i;
      cols.vs[i] = i % 5 === 0 ? 0 : i / 3;
    }
    const labelsOf = (id: number) => fields[id];
    const { groups } = groupBySeries(cols, labelsOf);
    for (let p = 0; p < 3; p++) {
      const mine = groups.filter((g) => g.id % 3 === p);
      const idx = [...cols.ids.keys()].filter((i) => cols.ids[i] % 3 === p);
      const alone = {
        ids: Float64Array.from(idx, (i) => cols.ids[i]),
        ts: Float64Array.from(idx, (i) => cols.ts[i]),
        vs: Float64Array.from(idx, (i) => cols.vs[i]),
        count: idx.length,
      };
      assert.deepEqual(encodeGroups(cols, mine), buildWriteRequest(alone, labelsOf).body);
    }
  });

  it("label fields decode back to the labels they were encoded from", () => {
    for (const l of [
      seriesLabels(1),
      labelsFromObject({ __name__: "ü\u{1F600}", a: "x".repeat(300), project_id: PROJECTS[2] }),
    ]) {
      assert.deepEqual(decodeLabelFields(encodeLabelFields(l)), l);
    }
  });

  it("checks the option", () => {
    const dir = tempDir();
    const make = (o: Partial<RemoteWriteStorageOptions>) => () =>
      new RemoteWriteStorage({ url: "http://127.0.0.1:9/api/v1/push", dir, ...o });
    const cases: [Partial<RemoteWriteStorageOptions>, RegExp][] = [
      [{ tenant: { label: "project_id" } }, /needs tenant\.header or a \{tenant\} placeholder/],
      [
        { url: "http://127.0.0.1:9/insert/{tenant}/write" },
        /has a \{tenant\} placeholder but option tenant is not set/,
      ],
      [
        { url: "http://{tenant}.example/write", tenant: { label: "project_id" } },
        /only be in the path or the query/,
      ],
      [
        { url: "http://127.0.0.1:9/write#{tenant}", tenant: { label: "project_id" } },
        /only be in the path or the query/,
      ],
      [{ tenant: { label: "", header: "X-Scope-OrgID" } }, /tenant\.label/],
      [{ tenant: { label: "project_id", header: "X Scope" } }, /is not a header name/],
      [
        { tenant: { label: "project_id", header: "X-Scope-OrgID", concurrency: 0 } },
        /tenant\.concurrency must be a positive integer/,
      ],
      [
        { tenant: { label: "project_id", header: "X-Scope-OrgID", concurrency: 1.5 } },
        /tenant\.concurrency must be a positive integer/,
      ],
      [{ tenant: { label: "project_id", header: "content-type" } }, /cannot carry the tenant/],
      [
        { headers: { "x-scope-orgid": "fixed" }, tenant: { label: "project_id", header: "X-Scope-OrgID" } },
        /cannot carry the tenant/,
      ],
      [
        { bearerToken: "t", tenant: { label: "project_id", header: "Authorization" } },
        /cannot carry the tenant/,
      ],
    ];
    for (const [o, re] of cases) {
      assert.throws(make(o), (e: Error) => e instanceof RangeError && re.test(e.message), JSON.stringify(o));
    }
  });
});
