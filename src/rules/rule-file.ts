/**
 * Prometheus's rule-file format (YAML): `groups: [{name, interval?, rules: [{record, expr,
 * labels?}]}]`. Only recording rules are evaluated here; an alerting rule is refused with a clear
 * error rather than silently ignored, since nothing would ever fire it.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseDurationMs } from "../config/duration.js";
import { ParseError } from "../promql/errors.js";
import { parseExpr } from "../promql/parser/index.js";

export interface RecordingRule {
  /** The metric name results are written under. */
  record: string;
  expr: string;
  /** Labels set on every result, replacing the query's own. */
  labels: Readonly<Record<string, string>>;
}

export interface RuleGroup {
  name: string;
  /** Evaluation interval in ms. */
  intervalMs: number;
  rules: readonly RecordingRule[];
  /** Where the group came from (a file path, or "built-in"). */
  source: string;
  /**
   * Set only on the product's own groups (src/rules/builtin.ts), never by a rule file: they are
   * generic (no project, model or other label value in them), so every tenant may see them.
   */
  builtin?: true;
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const RuleSchema = z
  .object({
    record: z.string().optional(),
    alert: z.string().optional(),
    expr: z.union([z.string(), z.number()]),
    labels: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    for: z.string().optional(),
    keep_firing_for: z.string().optional(),
  })
  .strict();

const FileSchema = z
  .object({
    groups: z.array(
      z
        .object({
          name: z.string().min(1),
          interval: z.string().optional(),
          query_offset: z.string().optional(),
          limit: z.number().int().nonnegative().optional(),
          labels: z.record(z.string(), z.string()).optional(),
          rules: z.array(RuleSchema),
        })
        .strict(),
    ),
  })
  .strict();

export class RuleFileError extends Error {
  override readonly name = "RuleFileError";
}

/** Parses and checks rule-file text; every error names the source, group and rule. */
export function parseRuleFile(text: string, source: string, defaultIntervalMs: number): RuleGroup[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RuleFileError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  const parsed = FileSchema.safeParse(doc ?? { groups: [] });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RuleFileError(`${source}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`);
  }
  const seen = new Set<string>();
  return parsed.data.groups.map((g) => {
    const where = `${source}: group ${JSON.stringify(g.name)}`;
    if (seen.has(g.name)) throw new RuleFileError(`${where}: group name used twice`);
    seen.add(g.name);
    let intervalMs = defaultIntervalMs;
    if (g.interval !== undefined) {
      try {
        intervalMs = parseDurationMs(g.interval);
      } catch (err) {
        throw new RuleFileError(`${where}: interval: ${(err as Error).message}`);
      }
      if (intervalMs <= 0) throw new RuleFileError(`${where}: interval must be positive`);
    }
    const rules = g.rules.map((r, ri) => {
      const at = `${where} rule ${ri + 1}`;
      if (r.alert !== undefined) {
        throw new RuleFileError(
          `${at}: alerting rules are not supported (only recording rules are evaluated)`,
        );
      }
      if (r.record === undefined) throw new RuleFileError(`${at}: "record" is required`);
      if (!METRIC_NAME_RE.test(r.record)) {
        throw new RuleFileError(`${at}: invalid recording rule name ${JSON.stringify(r.record)}`);
      }
      const expr = String(r.expr);
      try {
        const e = parseExpr(expr);
        if (e.type === "MatrixSelector" || e.type === "StringLiteral") {
          throw new RuleFileError(`${at}: expr must be an instant vector or a scalar`);
        }
      } catch (err) {
        if (err instanceof ParseError) throw new RuleFileError(`${at}: expr: ${err.toString()}`);
        throw err;
      }
      const labels: Record<string, string> = { ...g.labels };
      for (const [k, v] of Object.entries(r.labels ?? {})) {
        if (!LABEL_NAME_RE.test(k) || k === "__name__") {
          throw new RuleFileError(`${at}: invalid label name ${JSON.stringify(k)}`);
        }
        labels[k] = String(v);
      }
      return { record: r.record, expr, labels };
    });
    return { name: g.name, intervalMs, rules, source };
  });
}

export function loadRuleFile(path: string, defaultIntervalMs: number): RuleGroup[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new RuleFileError(`${path}: ${(err as Error).message}`);
  }
  return parseRuleFile(text, path, defaultIntervalMs);
}
