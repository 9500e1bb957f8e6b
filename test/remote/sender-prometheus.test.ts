/**
 * RemoteWriteStorage against a real Prometheus 2.42 (`--web.enable-remote-write-receiver`, on
 * loopback): samples flow in, Prometheus is stopped while commits go on, then restarted on the same
 * data directory; every committed sample must be queryable in the end. Fails in CI (CI=true) when
 * prometheus is missing; skipped locally.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RemoteWriteStorage } from "../../src/remote/sender/index.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { engineSkip, startPrometheus } from "../support/engines.js";

const SERIES = 40;

describe("RemoteWriteStorage → Prometheus 2.42", () => {
  it("loses no committed sample while Prometheus is stopped and restarted", {
    skip: engineSkip("prometheus"),
    timeout: 30_000,
  }, async () => {
    const prom = await startPrometheus();
    const logs: string[] = [];
    const s = new RemoteWriteStorage({
      url: prom.writeUrl,
      dir: join(prom.dir, "queue"),
      shards: 4,
      maxSamplesPerRequest: 500,
      batchDeadlineMs: 10,
      minBackoffMs: 20,
      maxBackoffMs: 250,
      log: (m) => logs.push(m),
    });
    const labels = Array.from({ length: SERIES }, (_, i) =>
      labelsFromObject({ __name__: "rw_sender_test", project_id: "p", i: String(i) }),
    );
    // One round: every series at the next second, in the last half hour (inside Prometheus's head).
    const t0 = Math.floor(Date.now() / 1000) * 1000 - 30 * 60_000;
    let rounds = 0;
    const commitRound = () => {
      const app = s.appender();
      for (let i = 0; i < SERIES; i++) app.append(0, labels[i], t0 + rounds * 1000, rounds * 100 + i);
      app.commit();
      rounds++;
    };
    let committing = true;
    const committer = (async () => {
      while (committing) {
        commitRound();
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 400));
      await prom.stop(); // commits go on; the shards retry
      const stoppedAt = rounds;
      await new Promise((r) => setTimeout(r, 800));
      assert.ok(s.status().unreachableSince !== null, "the outage was noticed");
      assert.ok(s.status().queuedSamples > 0);
      await prom.start();
      await new Promise((r) => setTimeout(r, 300));
      committing = false;
      await committer;
      assert.ok(rounds > stoppedAt + 20, `only ${rounds - stoppedAt} rounds during the outage`);
      assert.ok(await s.drain(15_000), JSON.stringify(s.status()));

      const end = (t0 + (rounds - 1) * 1000) / 1000;
      const q = encodeURIComponent("count_over_time(rw_sender_test[1h])");
      const res = await fetch(`${prom.url}/api/v1/query?query=${q}&time=${end}`);
      const body = (await res.json()) as {
        data: { result: { metric: { i: string }; value: [number, string] }[] };
      };
      assert.equal(body.data.result.length, SERIES);
      for (const r of body.data.result) assert.equal(Number(r.value[1]), rounds, `series i=${r.metric.i}`);
      const st = s.status();
      assert.equal(st.queuedSamples, 0);
      assert.ok(st.retries > 0);
      assert.ok(st.sentSamples >= SERIES * rounds - st.failedSamples);
    } finally {
      committing = false;
      await committer;
      await s.close(0);
      await prom.close();
    }
  });
});
