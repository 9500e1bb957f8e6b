/**
 * Comparing two Prometheus API answers (instant vectors or range matrices) series by series:
 * the same series (by their labels), the same timestamps, and values equal within a relative
 * tolerance or both NaN. Used where the service's answers are checked against another's (remote
 * mode against embedded, the benchmark's answers against Prometheus's).
 */

/** One series of an answer as the API sends it. */
export interface ApiSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** A series of an answer: its labels as a sortable key, its points as numbers. */
export type Row = { key: string; points: Array<[number, number]> };

/** The answer's series as rows, sorted by their labels. */
export function rowsOf(result: readonly ApiSeries[]): Row[] {
  return result
    .map((r) => ({
      key: JSON.stringify(Object.entries(r.metric).sort()),
      points: (r.values ?? (r.value ? [r.value] : [])).map(([t, v]): [number, number] => [t, Number(v)]),
    }))
    .sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
}

/** Equal within `rel` of the larger magnitude, or both NaN. */
export function closeEnough(a: number, b: number, rel: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Differences between two answers' rows, as readable lines (empty when they agree); the first
 * differing point of each series only. `names` say which side is which in the lines.
 */
export function compareRows(
  what: string,
  want: Row[],
  got: Row[],
  rel: number,
  names: { want: string; got: string } = { want: "want", got: "got" },
): string[] {
  const out: string[] = [];
  const keysW = want.map((r) => r.key).join("\n");
  const keysG = got.map((r) => r.key).join("\n");
  if (keysW !== keysG) {
    return [`${what}: series differ\n  ${names.want}: ${keysW}\n  ${names.got}: ${keysG}`];
  }
  for (let i = 0; i < want.length; i++) {
    const w = want[i].points;
    const g = got[i].points;
    if (w.length !== g.length) {
      out.push(`${what} ${want[i].key}: ${w.length} points ${names.want}, ${g.length} ${names.got}`);
      continue;
    }
    for (let j = 0; j < w.length; j++) {
      if (w[j][0] !== g[j][0] || !closeEnough(w[j][1], g[j][1], rel)) {
        out.push(
          `${what} ${want[i].key} @${w[j][0]}: ${names.want} ${w[j][1]}, ${names.got} ${g[j][0]}=${g[j][1]}`,
        );
        break;
      }
    }
  }
  return out;
}
