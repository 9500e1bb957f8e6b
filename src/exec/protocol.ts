/**
 * What the query pool's threads say to each other. Jobs and results go over the worker's own
 * port; storage reads go over a second port as blocking calls (sync-call.ts). Everything here is
 * structured-clone data: typed arrays are transferred, never copied twice.
 */

import type { EngineOptions } from "../promql/engine.js";
import type { QueryResult } from "../promql/value.js";
import type { SelectHints } from "../storage/index.js";
import type { SeriesPage } from "../tsdb/series-pages.js";

/** A matcher as [type, name, value]; the owner rebuilds it (and compiles its regex) itself. */
export type WireMatcher = [type: string, name: string, value: string];

export type DataRequest =
  | {
      op: "select";
      job: number;
      mint: number;
      maxt: number;
      sort: boolean;
      hints?: SelectHints;
      matchers: WireMatcher[];
    }
  | { op: "next"; job: number; cursor: number }
  | { op: "labelValues"; job: number; mint: number; maxt: number; name: string; matchers: WireMatcher[] }
  | { op: "labelNames"; job: number; mint: number; maxt: number; matchers: WireMatcher[] };

export type DataReply =
  | { ok: true; page: SeriesPage; cursor: number; warnings: string[] }
  | { ok: true; strings: string[] }
  | { ok: false; canceled: boolean; message: string };

export interface QueryJob {
  id: number;
  kind: "instant" | "range";
  query: string;
  start: number;
  end: number;
  step: number;
  /** Wall-clock ms (Date.now()) by which the answer is due. */
  deadline: number;
  lookbackDeltaMs?: number;
}

/** An error as the worker saw it, rebuilt into the engine's class on the owner's side. */
export interface WireError {
  name: string;
  message: string;
  /** ParseError only. */
  pos?: { start: number; end: number };
  query?: string;
}

export type JobOutcome =
  | { id: number; ok: true; result: QueryResult }
  | { id: number; ok: false; error: WireError };

export interface WorkerInit {
  /** Module the bootstrap imports (query-worker.ts). */
  entry: string;
  engine: EngineOptions;
  port: import("node:worker_threads").MessagePort;
  /** [0]: data-call flag (sync-call.ts); [1]: the id of a job to cancel. */
  shared: SharedArrayBuffer;
}
