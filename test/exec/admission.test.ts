import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdmissionRejectedError, FairAdmission, type Release } from "../../src/exec/admission.js";
import { QueryCanceledError, QueryTimeoutError } from "../../src/promql/errors.js";

const LATER = () => Date.now() + 60_000;

/** Resolves to the order in which the given acquisitions were granted. */
function recordGrants(
  admission: FairAdmission,
  keys: string[],
  signal: AbortSignal,
): { order: string[]; releases: Release[] } {
  const order: string[] = [];
  const releases: Release[] = [];
  for (const key of keys) {
    admission.acquire(key, LATER(), signal).then(
      (release) => {
        order.push(key);
        releases.push(release);
      },
      () => {},
    );
  }
  return { order, releases };
}

/** Cancels what a test left queued when it ends. */
function leftovers(t: { after(fn: () => void): void }): AbortSignal {
  const controller = new AbortController();
  t.after(() => controller.abort());
  return controller.signal;
}

const tick = () => new Promise((r) => setImmediate(r));

describe("fair admission", () => {
  it("runs at most maxConcurrent at once and a project at most perKey", async (t) => {
    const a = new FairAdmission({ maxConcurrent: 3, perKey: 2, maxQueuedPerKey: 10 });
    const { order } = recordGrants(a, ["p", "p", "p", "q"], leftovers(t));
    await tick();
    assert.deepEqual(order, ["p", "p", "q"]);
    assert.equal(a.active, 3);
    assert.equal(a.queued, 1);
  });

  it("hands freed slots to projects in turn, not to the one that queued most", async (t) => {
    const a = new FairAdmission({ maxConcurrent: 1, perKey: 1, maxQueuedPerKey: 100 });
    const first = await a.acquire("flood", LATER());
    const { order, releases } = recordGrants(a, [...Array(20).fill("flood"), "neighbour"], leftovers(t));
    first();
    await tick();
    assert.deepEqual(order, ["flood"]);
    releases[0]();
    await tick();
    // The neighbour queued behind 20 of the flood's queries and waits for one of them only.
    assert.deepEqual(order, ["flood", "neighbour"]);
  });

  it("refuses past a project's queue bound at once, without touching other projects", async (t) => {
    const a = new FairAdmission({ maxConcurrent: 1, perKey: 1, maxQueuedPerKey: 2 });
    await a.acquire("p", LATER());
    const signal = leftovers(t);
    recordGrants(a, ["p", "p"], signal);
    await assert.rejects(a.acquire("p", LATER()), AdmissionRejectedError);
    recordGrants(a, ["q"], signal);
    assert.equal(a.queued, 3);
  });

  it("times out and cancels queued queries, and forgets them", async () => {
    const a = new FairAdmission({ maxConcurrent: 1, perKey: 1, maxQueuedPerKey: 10 });
    const running = await a.acquire("p", LATER());
    await assert.rejects(a.acquire("q", Date.now() + 20), QueryTimeoutError);
    const controller = new AbortController();
    const canceled = a.acquire("q", LATER(), controller.signal);
    controller.abort();
    await assert.rejects(canceled, QueryCanceledError);
    assert.equal(a.queued, 0);
    running();
    assert.equal(a.active, 0);
    await (await a.acquire("q", LATER()))();
  });

  it("keeps one count per project when a project's last query is granted from the queue", async () => {
    // Regression: granting a project's only queued query (none of its own running) dropped the
    // project's state while that query ran; its release then dropped the project's newer queue,
    // whose queries waited until their deadline.
    const a = new FairAdmission({ maxConcurrent: 1, perKey: 1, maxQueuedPerKey: 10 });
    const other = await a.acquire("other", LATER());
    const granted = a.acquire("p", LATER());
    other();
    const p1 = await granted;
    const next = a.acquire("p", Date.now() + 2_000);
    await tick();
    p1();
    const p2 = await next;
    assert.equal(a.active, 1);
    p2();
    assert.equal(a.active, 0);
    assert.equal(a.queued, 0);
  });
});
