/**
 * Ingests the fleet until at least TARGET samples are in the head, then kills itself with SIGKILL.
 * Mode "default" keeps the store's normal checkpointing (on the simulated clock), so the head is
 * restored from checkpoints plus the log since the last one; mode "log-only" disables checkpoints,
 * so the whole head must be replayed from the log (the worst case).
 */
import { Tsdb } from "../src/tsdb/tsdb.js";
import { Fleet } from "./fleet.js";
import { ingestFleet } from "./ingest-fleet.js";

const [dir, projects, models, target, mode] = process.argv.slice(2);
const start = Date.UTC(2026, 10, 1);
let now = start;
const logOnly = mode === "log-only";
const db = Tsdb.open({
  dir,
  maintenanceIntervalMs: 0,
  now: () => now,
  ...(logOnly ? { checkpointIntervalMs: 1e12, checkpointWalBytes: 1e15 } : {}),
});
const fleet = new Fleet(Number(projects), Number(models));
const scrapes = Math.ceil(Number(target) / fleet.seriesCount);
const r = ingestFleet(db, fleet, [], start, scrapes, 5000, (t) => {
  now = t;
});
process.stdout.write(`${JSON.stringify({ samples: r.samples, series: fleet.seriesCount })}\n`, () => {
  process.kill(process.pid, "SIGKILL");
});
