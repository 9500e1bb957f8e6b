/** label_replace and label_join, after Prometheus's funcLabelReplace / funcLabelJoin. */
import { getLabel, METRIC_NAME } from "../../../storage/index.js";
import { compileRe2, type Re2Match, type Re2Regex } from "../../../storage/re2.js";
import type { Call } from "../../ast.js";
import { ExecutionError } from "../../errors.js";
import { checkDuplicates, type Evaluator } from "../evaluator.js";
import { dropMetricName, withLabel } from "../labels-util.js";
import type { EvalValue, StepSeries } from "../types.js";
import { stringArg, vectorArg } from "./args.js";

export function label_replace(ev: Evaluator, call: Call): EvalValue {
  const series = vectorArg(ev, call.args[0]);
  const dst = stringArg(ev, call.args[1], "destination label");
  const replacement = stringArg(ev, call.args[2], "replacement");
  const src = stringArg(ev, call.args[3], "source label");
  const regex = compileAnchored(stringArg(ev, call.args[4], "regex"));
  if (dst === "" || !dst.isWellFormed())
    throw new ExecutionError(`invalid destination label name in label_replace(): ${dst}`);
  for (const s of series) {
    const m = regex.exec(getLabel(s.metric, src));
    if (!m) continue;
    s.metric = withLabel(s.metric, dst, expandTemplate(replacement, m));
    if (dst === METRIC_NAME) s.dropName = false;
  }
  return checkUnique(series, ev.steps.count);
}

export function label_join(ev: Evaluator, call: Call): EvalValue {
  const series = vectorArg(ev, call.args[0]);
  const dst = stringArg(ev, call.args[1], "destination label");
  const sep = stringArg(ev, call.args[2], "separator");
  const srcs = call.args.slice(3).map((a) => stringArg(ev, a, "source label"));
  if (dst === "" || !dst.isWellFormed())
    throw new ExecutionError(`invalid destination label name in label_join(): ${dst}`);
  for (const s of series) {
    const value = srcs.map((l) => getLabel(s.metric, l)).join(sep);
    s.metric = withLabel(s.metric, dst, value);
    if (dst === METRIC_NAME) s.dropName = false;
  }
  return checkUnique(series, ev.steps.count);
}

/** Label functions must not make two series equal (judged as they will be returned). */
function checkUnique(series: StepSeries[], steps: number): EvalValue {
  checkDuplicates(series, steps, (s) => (s.dropName ? dropMetricName(s.metric) : s.metric));
  return { kind: "vector", series };
}

/**
 * Compiles a label_replace regex as Prometheus does: anchored, `.` matching newlines, RE2 syntax
 * and semantics, matched by re2js in time linear in the label value (see storage/re2.ts).
 */
export function compileAnchored(regex: string): Re2Regex {
  try {
    return compileRe2(regex);
  } catch (err) {
    throw new ExecutionError(`invalid regular expression in label_replace(): ${regex}`, { cause: err });
  }
}

// Go's extract(): a name is a run of Unicode letters, digits (Nd) and `_`, braced or not.
const BARE_NAME = /[\p{L}\p{Nd}_]+/uy;
const BRACED_NAME = /\{([\p{L}\p{Nd}_]+)\}/uy;

/**
 * Go's regexp.Expand: `$1`, `${1}`, `$name`, `${name}` (the longest run of letters, digits and
 * `_` after `$` is the name, so `$1x` names group "1x"), `$$` for a dollar sign; unknown groups and
 * groups that took no part in the match expand to "". A name is a number only in ASCII digits without
 * a leading zero (`$01` names group "01"), as in Go; a malformed reference stays as text.
 */
export function expandTemplate(template: string, m: Re2Match): string {
  let out = "";
  let from = 0;
  for (let i = template.indexOf("$"); i >= 0; i = template.indexOf("$", from)) {
    out += template.slice(from, i);
    if (template[i + 1] === "$") {
      out += "$";
      from = i + 2;
      continue;
    }
    const re = template[i + 1] === "{" ? BRACED_NAME : BARE_NAME;
    re.lastIndex = i + 1;
    const found = re.exec(template);
    if (!found) {
      out += "$";
      from = i + 1;
      continue;
    }
    from = re.lastIndex;
    const name = found[1] ?? found[0];
    if (/^(?:0|[1-9]\d{0,8})$/.test(name)) out += m[Number(name)] ?? "";
    else out += Object.hasOwn(m.groups, name) ? (m.groups[name] ?? "") : "";
  }
  return out + template.slice(from);
}
