/** label_replace and label_join, after Prometheus's funcLabelReplace / funcLabelJoin. */
import { translateRe2 } from "../../../storage/re2.js";
import { ExecutionError } from "../../errors.js";

/** Compiles a label_replace regex as Prometheus does: anchored, `.` matching newlines. */
export function compileAnchored(regex: string): RegExp {
  try {
    const { source, flags } = translateRe2(regex);
    return new RegExp(`^(?:${source})$`, flags);
  } catch (err) {
    throw new ExecutionError(`invalid regular expression in label_replace(): ${regex}`, { cause: err });
  }
}

/**
 * Go's regexp.Expand: `$1`, `${1}`, `$name`, `${name}` (the longest run of letters, digits and
 * `_` after `$` is the name, so `$1x` names group "1x"), `$$` for a dollar sign; unknown groups
 * expand to "".
 */
export function expandTemplate(template: string, m: RegExpExecArray): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const ch = template[i];
    if (ch !== "$" || i + 1 >= template.length) {
      out += ch;
      continue;
    }
    const next = template[i + 1];
    if (next === "$") {
      out += "$";
      i++;
      continue;
    }
    let name: string;
    let end: number;
    if (next === "{") {
      const close = template.indexOf("}", i + 2);
      if (close < 0) {
        out += ch;
        continue;
      }
      name = template.slice(i + 2, close);
      end = close;
      if (!/^[A-Za-z0-9_]+$/.test(name)) {
        out += ch;
        continue;
      }
    } else {
      const run = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (!run) {
        out += ch;
        continue;
      }
      name = run[0];
      end = i + name.length;
    }
    i = end;
    if (/^\d+$/.test(name)) {
      const n = Number(name);
      out += n < m.length ? (m[n] ?? "") : "";
    } else out += m.groups?.[name] ?? "";
  }
  return out;
}
