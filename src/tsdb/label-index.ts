/**
 * The in-memory inverted index: label name → value → postings (sorted series ids), plus the list
 * of all ids. Series ids only grow, so appending keeps every list sorted.
 *
 * The same index is kept once more per project (the value of `project_id`, "" for series without
 * one). A selection with `project_id="<p>"` — every tenant query has one (project-scope.ts) — is
 * resolved inside project p's own index alone: its other matchers (regexes, `!=`, `!~`, matchers
 * that select series lacking a label) only ever see label values that occur in series of p. The
 * work such a query does, and so its timing, does not depend on other projects' series, label
 * names or values at all.
 */
import { type Label, type Labels, type Matcher, MatchType, PROJECT_LABEL } from "../storage/index.js";
import { addId, intersect, merge, type Postings, removeId, subtract } from "./postings.js";

/** Series ids by label name and value, and all ids, of one set of series. */
class Scope {
  readonly byName = new Map<string, Map<string, number[]>>();
  readonly all: number[] = [];

  /** `skip`: a label not indexed here (the project label in a project's scope: it has one value). */
  add(id: number, labels: Labels, skip?: string): void {
    addId(this.all, id);
    for (const l of labels) {
      if (l.name === skip) continue;
      let values = this.byName.get(l.name);
      if (!values) {
        values = new Map();
        this.byName.set(l.name, values);
      }
      const list = values.get(l.value);
      if (!list) values.set(l.value, [id]);
      else addId(list, id);
    }
  }

  /** Returns the label pairs (name, value) no series of this scope has any more. */
  remove(id: number, labels: Labels, skip?: string): Label[] {
    removeId(this.all, id);
    const gone: Label[] = [];
    for (const l of labels) {
      if (l.name === skip) continue;
      const values = this.byName.get(l.name);
      const list = values?.get(l.value);
      if (!values || !list) continue;
      removeId(list, id);
      if (list.length === 0) {
        values.delete(l.value);
        gone.push(l);
        if (values.size === 0) this.byName.delete(l.name);
      }
    }
    return gone;
  }

  /** Postings of every series with label `name` whose value satisfies `accept`. */
  postingsWhere(name: string, accept: (v: string) => boolean): number[] {
    const values = this.byName.get(name);
    if (!values) return [];
    const lists: number[][] = [];
    for (const [v, list] of values) if (accept(v)) lists.push(list);
    return merge(lists);
  }

  /**
   * Series matching all matchers, as Prometheus's PostingsForMatchers computes them: matchers that
   * reject the empty value narrow the set by intersection (equality matchers first, they are the
   * cheapest and most selective); matchers that accept it (and so select series without the
   * label) subtract the series whose value they reject. `fixed`: a label every series of this
   * scope has with this one value (or lacks, for ""), not in `byName`.
   */
  postingsForMatchers(matchers: readonly Matcher[], fixed?: { name: string; value: string }): Postings {
    let result: Postings | null = null;
    const subtractions: Matcher[] = [];
    const others: Matcher[] = [];
    for (const m of matchers) {
      if (fixed && m.name === fixed.name) {
        // The same answer for every series here: all of them, or none.
        if (!m.matches(fixed.value)) return [];
        continue;
      }
      if (m.type !== MatchType.Equal) others.push(m);
      else if (m.value === "") subtractions.push(m);
      else {
        const p: Postings = this.byName.get(m.name)?.get(m.value) ?? [];
        result = result === null ? p : intersect(result, p);
        if (result.length === 0) return result;
      }
    }
    for (const m of others) {
      if (m.matchesEmpty()) {
        subtractions.push(m);
        continue;
      }
      const p = this.postingsWhere(m.name, (v) => m.matches(v));
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

export class LabelIndex {
  private readonly global = new Scope();
  /** One scope per value of the project label; "" holds the series without one. */
  private readonly projects = new Map<string, Scope>();
  /**
   * Interned label pairs: thousands of series share one {model_name: "…"} object instead of
   * each holding its own copy of the object and its strings.
   */
  private readonly pairs = new Map<string, Map<string, Label>>();

  constructor(private readonly projectLabel: string = PROJECT_LABEL) {}

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

  private projectOf(labels: Labels): string {
    for (const l of labels) if (l.name === this.projectLabel) return l.value;
    return "";
  }

  add(id: number, labels: Labels): void {
    this.global.add(id, labels);
    const project = this.projectOf(labels);
    let scope = this.projects.get(project);
    if (!scope) {
      scope = new Scope();
      this.projects.set(project, scope);
    }
    scope.add(id, labels, this.projectLabel);
  }

  remove(id: number, labels: Labels): void {
    for (const l of this.global.remove(id, labels)) this.pairs.get(l.name)?.delete(l.value);
    const project = this.projectOf(labels);
    const scope = this.projects.get(project);
    if (!scope) return;
    scope.remove(id, labels, this.projectLabel);
    if (scope.all.length === 0) this.projects.delete(project);
  }

  get seriesCount(): number {
    return this.global.all.length;
  }

  /** Label names in use; with `project`, only those of that project's series. */
  labelNames(project?: string): string[] {
    if (project === undefined) return [...this.global.byName.keys()];
    const scope = this.projects.get(project);
    if (!scope) return [];
    const names = [...scope.byName.keys()];
    if (project !== "") names.push(this.projectLabel);
    return names;
  }

  /** Values of label `name`; with `project`, only those occurring in that project's series. */
  values(name: string, project?: string): string[] {
    if (project === undefined) return [...(this.global.byName.get(name)?.keys() ?? [])];
    const scope = this.projects.get(project);
    if (!scope) return [];
    if (name === this.projectLabel) return project === "" ? [] : [project];
    return [...(scope.byName.get(name)?.keys() ?? [])];
  }

  /**
   * Series matching all matchers. With an equality matcher on the project label, everything is
   * resolved in that project's scope: no other project's label values are looked at.
   */
  postingsForMatchers(matchers: readonly Matcher[]): Postings {
    const own = matchers.find((m) => m.type === MatchType.Equal && m.name === this.projectLabel);
    if (own === undefined) return this.global.postingsForMatchers(matchers);
    const scope = this.projects.get(own.value);
    if (!scope) return [];
    return scope.postingsForMatchers(matchers, { name: this.projectLabel, value: own.value });
  }
}
