/**
 * RemoteWriteStorage against a real Prometheus 2.42 (`--web.enable-remote-write-receiver`, on
 * loopback): samples flow in, Prometheus is stopped while commits go on, then restarted on the same
 * data directory; every committed sample must be queryable in the end. Fails in CI (CI=true) when
 * prometheus is missing; skipped locally.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { RemoteWriteStorage } from "../../src/remote/sender/index.js";
import { labelsFromObject } from "../../src/storage/index.js";

const PROMETHEUS = process.env.PROMETHEUS ?? "/usr/bin/prometheus";
const SERIES = 40;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One Prometheus run; killed with this process if a test dies before stopping it. */
class Prometheus {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private readonly kill = () => this.child.kill("SIGKILL");

  constructor(
    readonly dir: string,
    readonly port: number,
  ) {
    const config = join(dir, "prometheus.yml");
    writeFileSync(config, "global:\n  scrape_interval: 15s\n");
    const log = openSync(join(dir, "prometheus.log"), "a");
    this.child = spawn(
      PROMETHEUS,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--web.enable-remote-write-receiver",
        "--log.level=warn",
      ],
      { stdio: ["ignore", log, log] },
    );
    closeSync(log);
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    process.once("exit", this.kill);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async ready(): Promise<void> {
    for (let i = 0; i < 300; i++) {
      try {
        if ((await fetch(`${this.url}/-/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `prometheus never became ready:\n${readFileSync(join(this.dir, "prometheus.log"), "utf8")}`,
    );
  }

  async stop(): Promise<void> {
    process.off("exit", this.kill);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

const missing = !existsSync(PROMETHEUS);
const inCi = process.env.CI === "true";

describe("RemoteWriteStorage → Prometheus 2.42", () => {
  if (missing && inCi) {
    it("needs prometheus", () =>
      assert.fail(`${PROMETHEUS} is missing: CI must install Debian's prometheus`));
    return;
  }
  it("loses no committed sample while Prometheus is stopped and restarted", {
    skip: missing ? `${PROMETHEUS} is missing; skipped (CI=true fails instead)` : false,
    timeout: 30_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "mim-rw-sender-prom-"));
    const port = await freePort();
    let prom = new Prometheus(dir, port);
    const logs: string[] = [];
    const s = new RemoteWriteStorage({
      url: `${prom.url}/api/v1/write`,
      dir: join(dir, "queue"),
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
      await prom.ready();
      await new Promise((r) => setTimeout(r, 400));
      await prom.stop(); // commits go on; the shards retry
      const stoppedAt = rounds;
      await new Promise((r) => setTimeout(r, 800));
      assert.ok(s.status().unreachableSince !== null, "the outage was noticed");
      assert.ok(s.status().queuedSamples > 0);
      prom = new Prometheus(dir, port);
      await prom.ready();
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
      await prom.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
