/** Renders a query envelope as a plain-text table for the terminal. */
import type { QueryEnvelope } from "./api-client.js";

function labelText(metric: Record<string, string>): string {
  const name = metric.__name__ ?? "";
  const rest = Object.entries(metric)
    .filter(([k]) => k !== "__name__")
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return rest.length > 0 || name === "" ? `${name}{${rest.join(", ")}}` : name;
}

function time(ts: number): string {
  return new Date(ts * 1000).toISOString();
}

export function formatQueryResult(res: QueryEnvelope): string {
  const d = res.data;
  switch (d.resultType) {
    case "scalar":
    case "string":
      return `${d.result[1]}  @ ${time(d.result[0])}`;
    case "vector": {
      if (d.result.length === 0) return "(no series)";
      const rows = d.result.map((s) => [labelText(s.metric), s.value[1]]);
      const w = Math.max(...rows.map((r) => r[0].length), 6);
      return [`${"SERIES".padEnd(w)}  VALUE`, ...rows.map(([l, v]) => `${l.padEnd(w)}  ${v}`)].join("\n");
    }
    case "matrix": {
      if (d.result.length === 0) return "(no series)";
      const parts: string[] = [];
      for (const s of d.result) {
        parts.push(labelText(s.metric));
        for (const [t, v] of s.values) parts.push(`  ${time(t)}  ${v}`);
      }
      return parts.join("\n");
    }
  }
}
