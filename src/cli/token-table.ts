/** Renders token listings as an aligned plain-text table (never the token values). */
import type { TokenResource } from "../api/token-resource.js";

export function tokenTable(list: readonly TokenResource[], withProject = false): string {
  const head = [
    "ID",
    ...(withProject ? ["PROJECT"] : []),
    "NAME",
    "PREFIX",
    "CREATED",
    "LAST USED",
    "EXPIRES",
  ];
  const rows = [
    head,
    ...list.map((t) => [
      t.id,
      ...(withProject ? [t.project_id] : []),
      t.name,
      `${t.prefix}…`,
      t.created_at,
      t.last_used_at ?? "never",
      t.expires_at ?? "never",
    ]),
  ];
  const widths = head.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
