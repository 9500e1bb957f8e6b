/**
 * Parser for Prometheus's PromQL test scripts (promql/promqltest, v3.5 and the later `expect range
 * vector` / `expect string` lines). Lines are trimmed, `#` lines are blank, and a blank line ends a
 * block. Commands:
 *
 *   load[_with_nhcb] <interval>       series lines follow (see series.ts)
 *   clear
 *   eval[_fail|_warn|_info|_ordered] instant at <time> <expr>
 *   eval[_fail|_warn|_info] range from <start> to <end> step <step> <expr>
 *
 * An eval block holds `expect …` lines, `expected_fail_message` / `expected_fail_regexp` (eval_fail
 * only; they end the block), a bare number (a scalar result; ends the block), or series lines.
 * Mistakes are collected per command rather than thrown, so one bad block cannot hide the rest.
 */

import type { Labels } from "../../storage/index.js";
import { translateRe2 } from "../../storage/re2.js";
import { parseDurationMs } from "./duration.js";
import { parseGoNumber } from "./literals.js";
import { parseSeriesDesc, type SequenceValue } from "./series.js";

export interface LoadSeries {
  /** 1-based line number in the script. */
  readonly line: number;
  readonly labels: Labels;
  readonly values: readonly SequenceValue[];
}

export interface LoadCommand {
  readonly type: "load";
  readonly line: number;
  readonly intervalMs: number;
  /** `load_with_nhcb`: classic histograms are also converted to native histograms with custom buckets. */
  readonly withNhcb: boolean;
  readonly series: readonly LoadSeries[];
}

export interface ClearCommand {
  readonly type: "clear";
  readonly line: number;
}

export type ExpectType = "ordered" | "fail" | "warn" | "no_warn" | "info" | "no_info";

/** One `expect <type> [msg|regex: …]` line. Without msg/regex it matches anything. */
export interface ExpectLine {
  readonly type: ExpectType;
  readonly line: number;
  /** Exact text to match (`msg:`). */
  readonly message?: string;
  /** Unanchored Go regexp (`regex:`), or the match-anything pattern when neither form is given. */
  readonly regex?: RegExp;
  /** The pattern as written, for messages. */
  readonly regexSource?: string;
}

export interface ExpectedSeries {
  readonly labels: Labels;
  readonly values: readonly SequenceValue[];
  /** 1-based position among the result lines (checked when the result must be ordered). */
  readonly pos: number;
  readonly line: number;
}

export interface EvalCommand {
  readonly type: "eval";
  readonly line: number;
  readonly expr: string;
  readonly kind: "instant" | "range";
  /** Instant: the evaluation time. Range: the query's start. Ms since Unix time 0. */
  startMs: number;
  /** Range (or `expect range vector`): the query's end; otherwise -Infinity, as in Prometheus. */
  endMs: number;
  stepMs: number;
  /** When an instant query runs. */
  evalMs: number;
  /** The eval_* variant used. */
  readonly modifier: "" | "fail" | "warn" | "info" | "ordered";
  expectedFailMessage?: string;
  expectedFailRegexp?: { readonly regex: RegExp; readonly source: string };
  readonly expects: ExpectLine[];
  /** A bare number was given: the result must be a scalar. */
  expectScalar: boolean;
  expectedScalar?: number;
  /** Expected series by label set; a repeated set replaces the earlier one. */
  readonly expected: ExpectedSeries[];
  expectedString?: string;
  /** `expect range vector …`: the instant query returns a range vector. */
  expectRangeVector: boolean;
  /** Skip the extra range-mode run of an instant query. */
  excludeFromRangeQuery: boolean;
}

export interface ScriptError {
  readonly line: number;
  readonly message: string;
  /** The eval's expression when the error belongs to an eval command. */
  readonly expr?: string;
}

export type Command = LoadCommand | ClearCommand | EvalCommand;

export interface Script {
  readonly commands: Command[];
  readonly errors: ScriptError[];
}

const PAT_SPACE = /[\t ]+/;
const PAT_LOAD = /^load(?:_(with_nhcb))?\s+(.+?)$/;
const PAT_EVAL_INSTANT = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$/;
const PAT_EVAL_RANGE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$/;
const PAT_EXPECT = /^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$/;
const RANGE_VECTOR_PREFIX = "expect range vector";
const PAT_EXPECT_RANGE = /^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$/;
const EXPECT_STRING_PREFIX = "expect string";

class LineError extends Error {
  constructor(
    readonly lineIndex: number,
    message: string,
  ) {
    super(message);
  }
}

/** Trimmed lines, comment lines blanked. */
export function scriptLines(input: string): string[] {
  return input.split("\n").map((l) => {
    const t = l.trim();
    return t.startsWith("#") ? "" : t;
  });
}

export function parseScript(input: string): Script {
  const lines = scriptLines(input);
  const commands: Command[] = [];
  const errors: ScriptError[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l === "") continue;
    const word = l.split(PAT_SPACE, 1)[0].toLowerCase();
    try {
      if (word === "clear") {
        commands.push({ type: "clear", line: i + 1 });
      } else if (word.startsWith("load")) {
        const r = parseLoad(lines, i);
        commands.push(r.cmd);
        i = r.last;
      } else if (word.startsWith("eval")) {
        const r = parseEval(lines, i);
        commands.push(r.cmd);
        i = r.last;
      } else {
        errors.push({ line: i + 1, message: `invalid command ${JSON.stringify(l)}` });
      }
    } catch (err) {
      const e = err as Error;
      const at = err instanceof LineError ? err.lineIndex : i;
      const header = PAT_EVAL_INSTANT.exec(l) ?? PAT_EVAL_RANGE.exec(l);
      const expr = header ? header[header.length - 1] : undefined;
      errors.push({ line: at + 1, message: e.message, expr });
      // Resume after the broken block.
      i = Math.max(i, at);
      while (i + 1 < lines.length && lines[i + 1] !== "") i++;
    }
  }
  return { commands, errors };
}

function parseLoad(lines: string[], i: number): { cmd: LoadCommand; last: number } {
  const m = PAT_LOAD.exec(lines[i]);
  if (!m) throw new LineError(i, "invalid load command. (load[_with_nhcb] <step:duration>)");
  let intervalMs: number;
  try {
    intervalMs = parseDurationMs(m[2]);
  } catch (err) {
    throw new LineError(i, `invalid step definition ${JSON.stringify(m[2])}: ${(err as Error).message}`);
  }
  const line = i + 1;
  const series: LoadSeries[] = [];
  while (i + 1 < lines.length && lines[i + 1] !== "") {
    i++;
    try {
      const desc = parseSeriesDesc(lines[i]);
      series.push({ line: i + 1, labels: desc.labels, values: desc.values });
    } catch (err) {
      throw new LineError(i, (err as Error).message);
    }
  }
  return { cmd: { type: "load", line, intervalMs, withNhcb: m[1] === "with_nhcb", series }, last: i };
}

function parseEval(lines: string[], i: number): { cmd: EvalCommand; last: number } {
  const instant = PAT_EVAL_INSTANT.exec(lines[i]);
  const range = instant ? null : PAT_EVAL_RANGE.exec(lines[i]);
  if (!instant && !range) {
    throw new LineError(
      i,
      "invalid evaluation command. Must be either 'eval[_fail|_warn|_info|_ordered] instant [at <offset:duration>] <query>' or 'eval[_fail|_warn|_info] range from <from> to <to> step <step> <query>'",
    );
  }
  const line = i + 1;
  const duration = (what: string, text: string | undefined): number => {
    try {
      return parseDurationMs(text ?? "");
    } catch (err) {
      throw new LineError(i, `invalid ${what} ${JSON.stringify(text ?? "")}: ${(err as Error).message}`);
    }
  };
  let cmd: EvalCommand;
  const base = { type: "eval" as const, line, expects: [], expected: [] };
  const flags = { expectScalar: false, expectRangeVector: false, excludeFromRangeQuery: false };
  if (instant) {
    const t = duration("timestamp definition", instant[2]);
    cmd = {
      ...base,
      ...flags,
      expr: instant[3],
      kind: "instant",
      startMs: t,
      endMs: Number.NEGATIVE_INFINITY,
      stepMs: 0,
      evalMs: t,
      modifier: (instant[1] ?? "") as EvalCommand["modifier"],
    };
  } else {
    const r = range!;
    const from = duration("start timestamp definition", r[2]);
    const to = duration("end timestamp definition", r[3]);
    if (to < from) {
      throw new LineError(
        i,
        `invalid test definition, end timestamp (${r[3]}) is before start timestamp (${r[2]})`,
      );
    }
    const step = duration("step definition", r[4]);
    if (step <= 0)
      throw new LineError(i, `invalid step definition ${JSON.stringify(r[4])}: must be positive`);
    cmd = {
      ...base,
      ...flags,
      expr: r[5],
      kind: "range",
      startMs: from,
      endMs: to,
      stepMs: step,
      evalMs: to,
      modifier: (r[1] ?? "") as EvalCommand["modifier"],
    };
  }
  const fail = cmd.modifier === "fail";
  const byKey = new Map<string, number>();
  for (let j = 1; i + 1 < lines.length; j++) {
    i++;
    const def = lines[i];
    if (def === "") {
      i--;
      break;
    }
    if (fail && def.startsWith("expected_fail_message")) {
      cmd.expectedFailMessage = def.slice("expected_fail_message".length).trim();
      break;
    }
    if (fail && def.startsWith("expected_fail_regexp")) {
      const source = def.slice("expected_fail_regexp".length).trim();
      cmd.expectedFailRegexp = { regex: compileGoRegexp(source, i, "expected_fail_regexp"), source };
      break;
    }
    if (def.startsWith(RANGE_VECTOR_PREFIX)) {
      const m = PAT_EXPECT_RANGE.exec(def);
      if (!m) throw new LineError(i, `invalid range vector definition ${JSON.stringify(def)}`);
      const from = duration("start timestamp definition", m[1]);
      const to = duration("end timestamp definition", m[2]);
      if (to < from) throw new LineError(i, `end timestamp (${m[2]}) is before start timestamp (${m[1]})`);
      cmd.startMs = from;
      cmd.endMs = to;
      cmd.stepMs = duration("step definition", m[3]);
      cmd.evalMs = to;
      cmd.expectRangeVector = true;
      cmd.excludeFromRangeQuery = true;
      continue;
    }
    if (def.startsWith(EXPECT_STRING_PREFIX)) {
      cmd.expectedString = parseExpectString(def, i);
      cmd.excludeFromRangeQuery = true;
      continue;
    }
    if (def.split(" ", 1)[0] === "expect") {
      cmd.expects.push(parseExpect(def, i));
      validateExpects(cmd, i);
      j--;
      continue;
    }
    const scalar = parseGoNumber(def);
    if (scalar !== undefined) {
      cmd.expectScalar = true;
      cmd.expectedScalar = scalar;
      break;
    }
    let desc: ReturnType<typeof parseSeriesDesc>;
    try {
      desc = parseSeriesDesc(def);
    } catch (err) {
      throw new LineError(i, (err as Error).message);
    }
    if (desc.values.length > 1 && cmd.kind === "instant" && !cmd.expectRangeVector) {
      throw new LineError(
        i,
        "expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' directive to enable a range vector result for an instant query",
      );
    }
    cmd.expectScalar = false;
    setExpected(cmd, byKey, { labels: desc.labels, values: desc.values, pos: j, line: i + 1 });
  }
  return { cmd, last: i };
}

function setExpected(cmd: EvalCommand, byKey: Map<string, number>, e: ExpectedSeries): void {
  const key = e.labels.map((l) => `${l.name}\u0000${l.value}`).join("\u0001");
  const at = byKey.get(key);
  if (at === undefined) {
    byKey.set(key, cmd.expected.length);
    cmd.expected.push(e);
  } else {
    cmd.expected[at] = e;
  }
}

function parseExpect(def: string, i: number): ExpectLine {
  const m = PAT_EXPECT.exec(def.trim());
  if (!m) {
    throw new LineError(
      i,
      "invalid expect statement, must match `expect <type> <match_type>: <string>` format",
    );
  }
  const type = m[1] as ExpectType;
  if (m[2] === "msg") return { type, line: i + 1, message: m[3].trim() };
  if (m[2] === "regex") {
    const source = m[3].trim();
    return { type, line: i + 1, regex: compileGoRegexp(source, i, `expect ${type}`), regexSource: source };
  }
  return { type, line: i + 1, regex: /^.*$/, regexSource: "^.*$" };
}

function validateExpects(cmd: EvalCommand, i: number): void {
  const count = (t: ExpectType) => cmd.expects.filter((e) => e.type === t).length;
  if (count("info") > 0 && count("no_info") > 0) {
    throw new LineError(i, "invalid expect lines, info and no_info cannot be used together");
  }
  if (count("warn") > 0 && count("no_warn") > 0) {
    throw new LineError(i, "invalid expect lines, warn and no_warn cannot be used together");
  }
  if (count("fail") > 1)
    throw new LineError(i, "invalid expect lines, multiple expect fail lines are not allowed");
}

function parseExpectString(def: string, i: number): string {
  const rest = def.slice(EXPECT_STRING_PREFIX.length).trim();
  if (rest === "")
    throw new LineError(i, "expected string literal not valid - a quoted string literal is required");
  try {
    const v = JSON.parse(rest);
    if (typeof v === "string") return v;
  } catch {}
  if (rest.length >= 2 && rest.startsWith("`") && rest.endsWith("`")) return rest.slice(1, -1);
  throw new LineError(i, "expected string literal not valid - check that the string is correctly quoted");
}

/** Compiles a Go regexp for unanchored matching (Go's default: `.` does not match a newline). */
export function compileGoRegexp(source: string, lineIndex = 0, what = "regexp"): RegExp {
  try {
    const t = translateRe2(`(?-s:${source})`);
    return new RegExp(t.source, t.flags);
  } catch (err) {
    throw new LineError(lineIndex, `invalid regexp '${source}' for ${what}: ${(err as Error).message}`);
  }
}

/** Whether the result must come back in the written order (eval_ordered or `expect ordered`). */
export function isOrdered(cmd: EvalCommand): boolean {
  return cmd.modifier === "ordered" || cmd.expects.some((e) => e.type === "ordered");
}

/** Whether the query must fail (eval_fail or `expect fail`). */
export function isFail(cmd: EvalCommand): boolean {
  return cmd.modifier === "fail" || cmd.expects.some((e) => e.type === "fail");
}
