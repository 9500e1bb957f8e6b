/**
 * The worker's blocking call to the owner (src/exec/sync-call.ts), with a real worker thread and an
 * owner that misbehaves on purpose: its wake-up for one call arrives while the worker is already
 * waiting on the next. The worker must go on waiting for its own answer, and every call must get
 * its own reply — never the one before it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { serveSyncCalls } from "../../src/exec/sync-call.js";

function startWorker(calls: number, port: MessagePort, shared: SharedArrayBuffer) {
  const worker = new Worker(new URL("../../src/tsdb/worker-bootstrap.mjs", import.meta.url), {
    workerData: { entry: new URL("./sync-call-worker.ts", import.meta.url).href, port, shared, calls },
    transferList: [port],
  });
  const done = new Promise<{ replies: string[]; error?: string }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return { worker, done };
}

test("a late wake-up for the previous call neither ends the next call early nor shifts its reply", async () => {
  const { port1, port2 } = new MessageChannel();
  const shared = new SharedArrayBuffer(4);
  const cell = new Int32Array(shared);
  // The owner, by hand: answers call 1 without the notify (the worker sees the cell and goes on),
  // then, once call 2 has arrived and the worker sleeps on it, sends the notify it owed call 1 and
  // only answers call 2 a little later, through the real serving code.
  const received: number[] = [];
  let stage = 0;
  port1.on("message", (m: { call: number; body: number }) => {
    received.push(m.body);
    if (stage === 0) {
      stage = 1;
      port1.postMessage({ call: m.call, body: `reply to ${m.body}` });
      Atomics.store(cell, 0, m.call);
      return;
    }
    if (stage === 1) {
      stage = 2;
      // Give the worker time to block on call 2, then wake it with nothing answered.
      setTimeout(() => {
        Atomics.notify(cell, 0);
        setTimeout(() => {
          port1.removeAllListeners("message");
          serveSyncCalls<number, string>(port1, cell, (n) => ({ reply: `reply to ${n}` }));
          port1.emit("message", m);
        }, 50);
      }, 50);
    }
  });
  const { worker, done } = startWorker(4, port2, shared);
  try {
    const out = await done;
    assert.equal(out.error, undefined);
    assert.deepEqual(out.replies, ["reply to 1", "reply to 2", "reply to 3", "reply to 4"]);
    assert.deepEqual(received.slice(0, 2), [1, 2]);
  } finally {
    await worker.terminate();
    port1.close();
  }
});

test("each of many calls gets its own reply", async () => {
  const { port1, port2 } = new MessageChannel();
  const shared = new SharedArrayBuffer(4);
  serveSyncCalls<number, string>(port1, new Int32Array(shared), (n) => ({ reply: `reply to ${n}` }));
  const { worker, done } = startWorker(2000, port2, shared);
  try {
    const out = await done;
    assert.equal(out.error, undefined);
    assert.equal(out.replies.length, 2000);
    out.replies.forEach((r, i) => {
      assert.equal(r, `reply to ${i + 1}`);
    });
  } finally {
    await worker.terminate();
    port1.close();
  }
});
