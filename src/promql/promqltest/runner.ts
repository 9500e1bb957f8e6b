/**
 * Runs a parsed test script against an engine, the way Prometheus's promqltest runner does: each
 * script (and each `clear`) gets a fresh storage from the caller's factory, samples are loaded
 * at Unix time 0 + i·interval (stale markers as StaleNaN), and every eval is one case.
 *
 * Instant evals are checked three ways, as in Prometheus: the query itself; the same query with
 * `@ <t>` on every selector, evaluated at other times (see at-modifier.ts); and a range query from
 * t-1m to t+1m step 1m whose middle step must equal the instant result. Evals that need native
 * histograms are skipped (native-histograms.ts). A case that throws is a failure, never a crash.
 */
import { labelsKey, StaleNaN, type Storage } from "../../storage/index.js";
import type { Engine, EngineOptions } from "../engine.js";
import { ParseError, ExecutionError as QueryEvalError } from "../errors.js";
import type { QueryResult, QueryValue } from "../value.js";
import { atModifierCases, usesQueryContextFunctions } from "./at-modifier.js";
import {
  assertMatrixSorted,
  checkAnnotations,
  checkExpectedFailure,
  compareResult,
  describeValue,
  vectorAt,
} from "./compare.js";
import { formatTimeMs } from "./duration.js";
import { LoadedSeriesIndex, nativeHistogramSkipReason } from "./native-histograms.js";
import { type EvalCommand, isFail, isOrdered, type LoadCommand, parseScript } from "./script.js";

/** The engine settings of Prometheus's test engine (promqltest.NewTestEngine, RunBuiltinTests). */
export const TEST_ENGINE_OPTIONS: EngineOptions = {
  lookbackDeltaMs: 5 * 60_000,
  maxSamples: 10_000,
  timeoutMs: 100_000,
  noStepSubqueryIntervalMs: 60_000,
  experimentalFunctions: true,
  delayedNameRemoval: true,
};

export type CaseStatus = "passed" | "failed" | "skipped";

export interface CaseOutcome {
  readonly file: string;
  /** 1-based line of the eval command (or of the script error). */
  readonly line: number;
  readonly query: string;
  /** "script" for a block the script parser rejected. */
  readonly kind: "instant" | "range" | "script";
  readonly status: CaseStatus;
  /** Why it failed or was skipped. */
  readonly reason?: string;
  /** What each query returned, when details were asked for. */
  readonly details?: readonly string[];
}

export interface LoadIssue {
  readonly line: number;
  readonly message: string;
}

export interface ScriptOutcome {
  readonly file: string;
  readonly cases: CaseOutcome[];
  /** Samples the storage rejected while loading (each also noted on stderr by the CLI). */
  readonly loadIssues: LoadIssue[];
  readonly durationMs: number;
}

export interface RunScriptOptions {
  readonly engine: Engine;
  /** Name used in outcomes (e.g. "functions.test"). */
  readonly file: string;
  /**
   * A fresh, empty storage, called once per script and once per `clear`; the runner closes each
   * (for instance `openScratchTsdb` of src/tsdb/scratch.ts).
   */
  readonly openStorage: () => Storage;
  /** Only evaluate the eval at this line (loads and clears still run). */
  readonly line?: number;
  /** Record what every query returned in `details`. */
  readonly details?: boolean;
}

const MINUTE_MS = 60_000;

export function errorText(err: unknown): string {
  if (err instanceof ParseError) return err.toString();
  if (err instanceof Error) return err.message;
  return String(err);
}

function isQueryError(err: unknown): boolean {
  return err instanceof ParseError || err instanceof QueryEvalError;
}

/** One storage per `clear`, plus the index of what was loaded into it. */
class ScriptStorage {
  db: Storage;
  readonly index = new LoadedSeriesIndex();

  constructor(private readonly open: () => Storage) {
    this.db = open();
  }

  clear(): void {
    this.db.close();
    this.db = this.open();
    this.index.clear();
  }

  close(): void {
    this.db.close();
  }
}

export function runScript(text: string, options: RunScriptOptions): ScriptOutcome {
  const started = performance.now();
  const { file } = options;
  const script = parseScript(text);
  const cases: CaseOutcome[] = [];
  const loadIssues: LoadIssue[] = [];
  for (const e of script.errors) {
    if (options.line !== undefined && e.line !== options.line) continue;
    cases.push({
      file,
      line: e.line,
      query: e.expr ?? "",
      kind: "script",
      status: "failed",
      reason: `script error: ${e.message}`,
    });
  }
  const storage = new ScriptStorage(options.openStorage);
  try {
    for (const cmd of script.commands) {
      switch (cmd.type) {
        case "clear":
          storage.clear();
          break;
        case "load":
          loadIssues.push(...load(storage, cmd));
          break;
        case "eval":
          if (options.line !== undefined && cmd.line !== options.line) break;
          cases.push(new EvalRun(options, storage, cmd).run());
          break;
      }
    }
  } finally {
    storage.close();
  }
  cases.sort((a, b) => a.line - b.line);
  return { file, cases, loadIssues, durationMs: performance.now() - started };
}

/** Appends a load block in one batch. Native-histogram samples are left out (their evals are skipped). */
function load(storage: ScriptStorage, cmd: LoadCommand): LoadIssue[] {
  storage.index.addLoad(cmd);
  // A series given twice in one block: the later line wins, as in Prometheus.
  const bySeries = new Map<string, LoadCommand["series"][number]>();
  for (const s of cmd.series) bySeries.set(labelsKey(s.labels), s);
  const issues: LoadIssue[] = [];
  const app = storage.db.appender();
  for (const s of bySeries.values()) {
    let ref = 0;
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (v.kind === "omitted" || v.kind === "histogram") continue;
      try {
        ref = app.append(ref, s.labels, i * cmd.intervalMs, v.kind === "stale" ? StaleNaN : v.value);
      } catch (err) {
        issues.push({ line: s.line, message: `sample ${i} not loaded: ${errorText(err)}` });
        break;
      }
    }
  }
  try {
    app.commit();
  } catch (err) {
    issues.push({ line: cmd.line, message: `load block not stored: ${errorText(err)}` });
  }
  return issues;
}

interface InstantRun {
  readonly expr: string;
  readonly evalMs: number;
  /** Which check this is, for failure messages; "" for the eval itself. */
  readonly label: string;
}

class EvalRun {
  private readonly details: string[] = [];

  constructor(
    private readonly options: RunScriptOptions,
    private readonly storage: ScriptStorage,
    private readonly cmd: EvalCommand,
  ) {}

  run(): CaseOutcome {
    const { cmd } = this;
    const base = { file: this.options.file, line: cmd.line, query: cmd.expr, kind: cmd.kind };
    const skip = nativeHistogramSkipReason(cmd, this.storage.index);
    if (skip !== null) return { ...base, status: "skipped", reason: skip };
    let reason: string | null;
    try {
      reason = cmd.kind === "range" ? this.range() : this.instant();
    } catch (err) {
      reason = `runner error: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
    }
    const details = this.options.details ? { details: this.details } : {};
    return reason === null
      ? { ...base, status: "passed", ...details }
      : { ...base, status: "failed", reason, ...details };
  }

  private note(what: string, res: QueryResult): void {
    if (!this.options.details) return;
    let line = `${what}: ${describeValue(res.value)}`;
    if (res.warnings.length) line += `; warnings: ${JSON.stringify(res.warnings)}`;
    if (res.infos.length) line += `; infos: ${JSON.stringify(res.infos)}`;
    this.details.push(line);
  }

  /** What a thrown query means: the expected failure, or the reason the case fails. */
  private failed(err: unknown, label: string): string | null {
    const prefix = label === "" ? "" : `[${label}] `;
    if (this.options.details) this.details.push(`${label || "query"} threw: ${errorText(err)}`);
    if (!isQueryError(err)) {
      const name = err instanceof Error ? err.name : typeof err;
      return `${prefix}engine threw ${name} (not a ParseError/ExecutionError): ${errorText(err)}`;
    }
    if (isFail(this.cmd)) {
      const r = checkExpectedFailure(this.cmd, errorText(err));
      return r === null ? null : prefix + r;
    }
    return `${prefix}error evaluating query: ${errorText(err)}`;
  }

  private range(): string | null {
    const { cmd } = this;
    let res: QueryResult;
    try {
      res = this.options.engine.rangeQuery(this.storage.db, cmd.expr, cmd.startMs, cmd.endMs, cmd.stepMs);
    } catch (err) {
      return this.failed(err, "");
    }
    this.note("range query", res);
    if (isFail(cmd)) return `expected an error but got ${describeValue(res.value)}`;
    return checkAnnotations(cmd, res.warnings, res.infos) ?? compareResult(cmd, res.value);
  }

  private instant(): string | null {
    const { cmd } = this;
    const runs: InstantRun[] = [{ expr: cmd.expr, evalMs: cmd.evalMs, label: "" }];
    const plan = atModifierCases(cmd.expr, cmd.evalMs);
    if (plan.kind === "cases") {
      for (const c of plan.cases) {
        runs.push({ ...c, label: `@ check: ${c.expr} at ${formatTimeMs(c.evalMs)}` });
      }
    } else if (this.options.details) {
      this.details.push(`no @ checks: ${plan.why}`);
    }
    for (const run of runs) {
      const r = this.instantRun(run);
      if (r !== null) return r;
    }
    return null;
  }

  private instantRun(run: InstantRun): string | null {
    const { cmd } = this;
    const prefix = run.label === "" ? "" : `[${run.label}] `;
    let res: QueryResult;
    try {
      res = this.options.engine.instantQuery(this.storage.db, run.expr, run.evalMs);
    } catch (err) {
      return this.failed(err, run.label);
    }
    this.note(run.label || `instant query at ${formatTimeMs(run.evalMs)}`, res);
    if (isFail(cmd)) return `${prefix}expected an error but got ${describeValue(res.value)}`;
    const bad = checkAnnotations(cmd, res.warnings, res.infos) ?? compareResult(cmd, res.value);
    if (bad !== null) return prefix + bad;
    if (cmd.excludeFromRangeQuery || usesQueryContextFunctions(run.expr)) return null;
    return this.rangeModeCheck(run, res.value);
  }

  /** The same query as a range query around t must give the instant result at its middle step. */
  private rangeModeCheck(run: InstantRun, instant: QueryValue): string | null {
    const t = run.evalMs;
    const label = `range-mode check${run.label === "" ? "" : ` of ${run.label}`}: ${formatTimeMs(t - MINUTE_MS)} to ${formatTimeMs(t + MINUTE_MS)} step 60s`;
    let res: QueryResult;
    try {
      res = this.options.engine.rangeQuery(
        this.storage.db,
        run.expr,
        t - MINUTE_MS,
        t + MINUTE_MS,
        MINUTE_MS,
      );
    } catch (err) {
      return `[${label}] error evaluating query: ${errorText(err)}`;
    }
    this.note(label, res);
    if (isOrdered(this.cmd)) return null;
    if (res.value.type !== "matrix")
      return `[${label}] range query returned a ${res.value.type}, not a matrix`;
    const unsorted = assertMatrixSorted(res.value.series);
    if (unsorted !== null) return `[${label}] ${unsorted}`;
    const vec = vectorAt(res.value.series, t);
    let bad: string | null;
    if (instant.type === "scalar") {
      bad =
        vec.length === 0
          ? "no point at the middle step"
          : compareResult(this.cmd, { type: "scalar", t, v: vec[0].v });
    } else {
      bad = compareResult(this.cmd, { type: "vector", samples: vec });
    }
    return bad === null ? null : `[${label}] ${bad}`;
  }
}
