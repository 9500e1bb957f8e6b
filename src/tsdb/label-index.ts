/**
 * The in-memory inverted index: label name → value → postings (sorted series ids), plus the list
 * of all ids. Series ids only grow, so appending keeps every list sorted.
 */
import { type Label, type Labels, type Matcher, MatchType } from "../storage/index.js";
import { intersect, merge, type Postings, removeId, subtract } from "./postings.js";

export class LabelIndex {
  private readonly byName = new Map<string, Map<string, number[]>>();
  private readonly all: number[] = [];
  /**
   * Interned label pairs: thousands of series share one {model_name: "…"} object instead of
   * each holding its own copy of the object and its strings.
   */
  private readonly pairs = new Map<string, Map<string, Label>>();

  internLabel(name: string, value: string): Label {
    let values = this.pairs.get(name);
    if (!values) {
      values = new Map();
      this.pairs.set(name, values);
    }
    let label = values.get(value);
    if (!label) {
      label = { name, value };
      values.set(value, label);
    }
    return label;
  }

  add(id: number, labels: Labels): void {
    const last = this.all.length ? this.all[this.all.length - 1] : 0;
    if (id > last) this.all.push(id);
    else insertSorted(this.all, id);
    for (const l of labels) {
      let values = this.byName.get(l.name);
      if (!values) {
        values = new Map();
        this.byName.set(l.name, values);
      }
      const list = values.get(l.value);
      if (!list) values.set(l.value, [id]);
      else if (id > list[list.length - 1]) list.push(id);
      else insertSorted(list, id);
    }
  }

  remove(id: number, labels: Labels): void {
    removeId(this.all, id);
    for (const l of labels) {
      const values = this.byName.get(l.name);
      const list = values?.get(l.value);
      if (!values || !list) continue;
      removeId(list, id);
      if (list.length === 0) {
        values.delete(l.value);
        this.pairs.get(l.name)?.delete(l.value);
        if (values.size === 0) this.byName.delete(l.name);
      }
    }
  }

  get seriesCount(): number {
    return this.all.length;
  }

  labelNames(): string[] {
    return [...this.byName.keys()];
  }

  values(name: string): string[] {
    return [...(this.byName.get(name)?.keys() ?? [])];
  }

  /** Postings of every series with label `name` whose value satisfies `accept`. */
  private postingsWhere(name: string, accept: (v: string) => boolean): number[] {
    const values = this.byName.get(name);
    if (!values) return [];
    const lists: number[][] = [];
    for (const [v, list] of values) if (accept(v)) lists.push(list);
    return merge(lists);
  }

  /**
   * Series matching all matchers, as Prometheus's PostingsForMatchers computes them: matchers that
   * reject the empty value narrow the set by intersection; matchers that accept it (and so select
   * series without the label) subtract the series whose value they reject.
   */
  postingsForMatchers(matchers: readonly Matcher[]): Postings {
    let result: Postings | null = null;
    const subtractions: Matcher[] = [];
    for (const m of matchers) {
      if (m.matchesEmpty()) {
        subtractions.push(m);
        continue;
      }
      let p: Postings;
      if (m.type === MatchType.Equal) p = this.byName.get(m.name)?.get(m.value) ?? [];
      else p = this.postingsWhere(m.name, (v) => m.matches(v));
      result = result === null ? p : intersect(result, p);
      if (result.length === 0) return result;
    }
    if (result === null) result = this.all;
    for (const m of subtractions) {
      // {l=""} and {l!~".+"}-style matchers: drop series whose (non-empty) value the matcher rejects.
      const rejected = this.postingsWhere(m.name, (v) => !m.matches(v));
      if (rejected.length) result = subtract(result, rejected);
    }
    return result;
  }
}

function insertSorted(list: number[], id: number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo] !== id) list.splice(lo, 0, id);
}
