/**
 * SIGKILL during remote-write ingest loses nothing acknowledged: a `mim serve` child takes writes
 * from two concurrent senders, is killed mid-stream, and the store it leaves behind must hold every
 * sample of every request that got a 204.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { encodeRemoteWriteBody } from "../../src/ingest/remote-write/index.js";
import { labelsFromObject, Matcher } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { spawnMimServe } from "../support/mim-process.js";

const ADMIN = "mim_adm_crash-test-admin-key-0123456789";
const SERIES = 300;
const T0 = Date.now() - 3_600_000;

function labels(i: number) {
  return labelsFromObject({
    __name__: "crusoe_inference_request_count",
    project_id: `p${i % 3}`,
    model_name: `model-${i}`,
    service_tier: i % 2 ? "pt" : "on_demand",
  });
}

/** Request k of a sender: every series once, at that sender's k-th timestamp. */
function body(sender: number, k: number): Uint8Array {
  const t = T0 + k * 1000 + sender * 500;
  return encodeRemoteWriteBody({
    timeseries: Array.from({ length: SERIES }, (_, i) => ({
      labels: labels(i),
      samples: [{ timestamp: t, value: k * 10 + sender }],
    })),
  });
}

describe("remote-write under SIGKILL", () => {
  it("keeps every acknowledged sample", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mim-crash-"));
    try {
      const mim = await spawnMimServe(
        [
          "--data-dir",
          dir,
          "--listen",
          "127.0.0.1:0",
          "--no-cli-config",
          "--no-builtin-rules",
          "--log-level",
          "warn",
          "--remote-write-rate",
          "0",
        ],
        { ...process.env, MIM_ADMIN_KEY: ADMIN },
      );
      const url = mim.url;
      const created = await fetch(`${url}/v1alpha5/ingest-tokens`, {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name: "crash" }),
      });
      const { token } = (await created.json()) as { token: string };

      // Each sender writes its requests in order and remembers which were acknowledged.
      const acked: number[][] = [[], []];
      let killed = false;
      const sender = async (s: number) => {
        for (let k = 0; !killed; k++) {
          try {
            const res = await fetch(`${url}/api/v1/write`, {
              method: "POST",
              headers: {
                Authorization: `Bearer ${token}`,
                "Content-Encoding": "snappy",
                "Content-Type": "application/x-protobuf",
              },
              body: body(s, k),
            });
            if (res.status === 204) acked[s].push(k);
            else assert.fail(`write ${s}/${k}: ${res.status} ${await res.text()}`);
          } catch {
            return; // the connection died with the process
          }
        }
      };
      const senders = [sender(0), sender(1)];
      await new Promise((r) => setTimeout(r, 2_500));
      killed = true;
      const exited = mim.stop("SIGKILL");
      await Promise.all(senders);
      await exited;
      assert.ok(
        acked[0].length + acked[1].length > 10,
        `only ${acked[0].length + acked[1].length} writes acknowledged`,
      );

      const db = Tsdb.open({ dir, maintenanceIntervalMs: 0, log: () => {} });
      try {
        const q = db.querier(T0 - 1, T0 + 10_000_000);
        const set = q.select(true, undefined, new Matcher("=", "__name__", "crusoe_inference_request_count"));
        const stored = new Map<string, Map<number, number>>();
        while (set.next()) {
          const s = set.at();
          const it = s.iterator();
          const points = new Map<number, number>();
          while (it.next()) points.set(it.atT(), it.atV());
          stored.set(s.labels.find((l) => l.name === "model_name")?.value ?? "", points);
        }
        q.close();
        assert.equal(stored.size, SERIES);
        let checked = 0;
        for (let i = 0; i < SERIES; i++) {
          const points = stored.get(`model-${i}`);
          assert.ok(points, `model-${i}`);
          for (const s of [0, 1]) {
            for (const k of acked[s]) {
              assert.equal(
                points.get(T0 + k * 1000 + s * 500),
                k * 10 + s,
                `model-${i} sender ${s} write ${k}`,
              );
              checked++;
            }
          }
        }
        assert.ok(checked > 0);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
