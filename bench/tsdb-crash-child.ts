/**
 * Ingests the fleet with checkpoints disabled until at least TARGET samples sit in the log, then
 * kills itself with SIGKILL, leaving a store whose whole head must be replayed at the next start.
 */
import { Tsdb } from "../src/tsdb/tsdb.js";
import { Fleet } from "./fleet.js";
import { ingestFleet } from "./ingest-fleet.js";

const [dir, projects, models, target] = process.argv.slice(2).map((a, i) => (i === 0 ? a : Number(a))) as [
  string,
  number,
  number,
  number,
];
const start = Date.UTC(2026, 10, 1);
let now = start;
const db = Tsdb.open({
  dir,
  maintenanceIntervalMs: 0,
  checkpointIntervalMs: 1e12,
  checkpointWalBytes: 1e15,
  memoryWindowMs: 24 * 3_600_000,
  now: () => now,
});
const fleet = new Fleet(projects, models);
const refs: number[] = [];
const scrapes = Math.ceil(target / fleet.seriesCount);
const r = ingestFleet(db, fleet, refs, start, scrapes, 5000, (t) => {
  now = t;
});
process.stdout.write(`${JSON.stringify({ samples: r.samples, series: fleet.seriesCount })}\n`, () => {
  process.kill(process.pid, "SIGKILL");
});
