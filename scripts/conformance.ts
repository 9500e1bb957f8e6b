/**
 * Runs Prometheus's PromQL test scripts (test/promql/testdata/prometheus, or $PROMQL_TESTDATA) against
 * this project's engine and embedded TSDB. Prints a table of passed/failed/skipped per file and,
 * as its last line, `conformance: N passed, N failed, N skipped`; writes every case's outcome to
 * conformance-report.json in the repository root. Exits 0 even with failures (CI reads the counts);
 * only a broken setup (no test files, bad options) exits non-zero.
 *
 *   npm run conformance
 *   npm run conformance -- --file functions.test            one file, every case listed
 *   npm run conformance -- --file functions.test --line 120 one case, with what each query returned
 *   npm run conformance -- --failed                          list every failing case
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { newEngine } from "../src/promql/engine.js";
import {
  type CaseOutcome,
  runScript,
  type ScriptOutcome,
  TEST_ENGINE_OPTIONS,
} from "../src/promql/promqltest/runner.js";
import { openScratchTsdb } from "../src/tsdb/scratch.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE = `usage: npm run conformance -- [--file <name>] [--line <n>] [--failed] [--report <path>]

  --file <name>    run one script (e.g. functions.test or functions); every case is listed
  --line <n>       with --file: run only the eval at line n, printing what each query returned
  --failed         list every failing case (file:line, query, reason)
  --report <path>  where to write the JSON report (default: conformance-report.json in the repo
                   root for a full run; filtered runs write one only when asked)
  PROMQL_TESTDATA  directory of *.test files (default: test/promql/testdata/prometheus)`;

function main(): number {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const dir = resolve(ROOT, process.env.PROMQL_TESTDATA ?? "test/promql/testdata/prometheus");
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith(".test"))
      .sort();
  } catch (err) {
    process.stderr.write(`cannot read test scripts in ${dir}: ${(err as Error).message}\n`);
    return 2;
  }
  const only = args.values.file;
  if (only !== undefined) {
    const name = only.endsWith(".test") ? basename(only) : `${basename(only)}.test`;
    if (!files.includes(name)) {
      process.stderr.write(`no script ${name} in ${dir}; have: ${files.join(", ")}\n`);
      return 2;
    }
    files = [name];
  }
  let line: number | undefined;
  if (args.values.line !== undefined) {
    line = Number(args.values.line);
    if (!Number.isInteger(line) || line <= 0 || only === undefined) {
      process.stderr.write(`--line needs a positive line number and --file\n`);
      return 2;
    }
  }
  if (files.length === 0) {
    process.stderr.write(`no *.test files in ${dir}\n`);
    return 2;
  }

  const engine = newEngine(TEST_ENGINE_OPTIONS);
  const outcomes: ScriptOutcome[] = [];
  const sources = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(dir, file), "utf8");
    sources.set(file, text.split("\n"));
    let outcome: ScriptOutcome;
    try {
      outcome = runScript(text, {
        openStorage: () => openScratchTsdb(),
        engine,
        file,
        line,
        details: line !== undefined,
      });
    } catch (err) {
      // Only setup problems (e.g. the TSDB could not be opened) get here; cases never throw.
      outcome = {
        file,
        cases: [
          {
            file,
            line: 0,
            query: "",
            kind: "script",
            status: "failed",
            reason: `runner error: ${String(err)}`,
          },
        ],
        loadIssues: [],
        durationMs: 0,
      };
    }
    outcomes.push(outcome);
  }

  const all = outcomes.flatMap((o) => o.cases);
  const detailed = only !== undefined;
  if (detailed) printCases(all, line !== undefined ? sources : null);
  else if (args.values.failed)
    printCases(
      all.filter((c) => c.status === "failed"),
      null,
    );
  for (const o of outcomes) {
    for (const issue of o.loadIssues.slice(0, 5)) {
      process.stdout.write(`load issue ${o.file}:${issue.line}: ${issue.message}\n`);
    }
    if (o.loadIssues.length > 5)
      process.stdout.write(`… ${o.loadIssues.length - 5} more load issues in ${o.file}\n`);
  }
  const totals = count(all);
  const reportPath = args.values.report ?? (detailed ? undefined : join(ROOT, "conformance-report.json"));
  if (reportPath !== undefined) {
    const report = {
      generatedAt: new Date().toISOString(),
      testdata: dir,
      engineOptions: TEST_ENGINE_OPTIONS,
      totals,
      files: outcomes.map((o) => ({
        file: o.file,
        ...count(o.cases),
        durationMs: Math.round(o.durationMs),
        loadIssues: o.loadIssues,
      })),
      cases: all.map((c) => ({
        file: c.file,
        line: c.line,
        query: c.query,
        kind: c.kind,
        status: c.status,
        ...(c.reason === undefined ? {} : { reason: c.reason }),
      })),
    };
    writeFileSync(resolve(ROOT, reportPath), `${JSON.stringify(report, null, 2)}\n`);
  }
  printTable(outcomes);
  process.stdout.write(
    `conformance: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`,
  );
  return 0;
}

function parse() {
  return parseArgs({
    options: {
      file: { type: "string" },
      line: { type: "string" },
      failed: { type: "boolean" },
      report: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  });
}

function count(cases: readonly CaseOutcome[]): { passed: number; failed: number; skipped: number } {
  const c = { passed: 0, failed: 0, skipped: 0 };
  for (const x of cases) c[x.status]++;
  return c;
}

/** Lists cases; with `sources`, also each case's script block and what every query returned. */
function printCases(cases: readonly CaseOutcome[], sources: Map<string, string[]> | null): void {
  const tag = { passed: "PASS", failed: "FAIL", skipped: "SKIP" } as const;
  for (const c of cases) {
    let out = `${tag[c.status]} ${c.file}:${c.line} ${c.query}\n`;
    if (c.reason !== undefined) out += `     ${c.reason}\n`;
    const lines = sources?.get(c.file);
    if (lines !== undefined) {
      for (let i = c.line - 1; i < lines.length && lines[i].trim() !== ""; i++) {
        out += `     | ${String(i + 1).padStart(4)}  ${lines[i]}\n`;
      }
      for (const d of c.details ?? []) out += `     · ${d}\n`;
    }
    process.stdout.write(out);
  }
}

function printTable(outcomes: readonly ScriptOutcome[]): void {
  const rows = outcomes.map((o) => {
    const c = count(o.cases);
    return [
      o.file,
      String(c.passed),
      String(c.failed),
      String(c.skipped),
      `${(o.durationMs / 1000).toFixed(1)}s`,
    ];
  });
  const t = count(outcomes.flatMap((o) => o.cases));
  const ms = outcomes.reduce((s, o) => s + o.durationMs, 0);
  const header = ["file", "passed", "failed", "skipped", "time"];
  const total = [
    "total",
    String(t.passed),
    String(t.failed),
    String(t.skipped),
    `${(ms / 1000).toFixed(1)}s`,
  ];
  const widths = header.map((h, i) => Math.max(h.length, total[i].length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  process.stdout.write(`${[fmt(header), rule, ...rows.map(fmt), rule, fmt(total)].join("\n")}\n`);
}

process.exitCode = main();
