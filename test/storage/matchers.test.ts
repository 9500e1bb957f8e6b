/**
 * Prometheus's own matcher test cases (see matcher-cases.ts for their sources), run against the
 * Matcher class and, for the postings / label-values / label-names cases, against the embedded TSDB.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { labelsFromObject, labelsToObject, Matcher } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import {
  labelNamesCases,
  labelValuesCases,
  type MatchType,
  matcherCases,
  postingsCases,
  postingsSeries,
} from "./matcher-cases.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function openWith(series: Array<Record<string, string>>): Tsdb {
  const dir = mkdtempSync(join(tmpdir(), "mim-matchers-"));
  dirs.push(dir);
  const db = Tsdb.open({ dir, maintenanceIntervalMs: 0 });
  const app = db.appender();
  for (const s of series) app.append(0, labelsFromObject(s), 1000, 1);
  app.commit();
  return db;
}

function matchers(list: Array<[string, MatchType, string]>): Matcher[] {
  return list.map(([name, type, value]) => new Matcher(type, name, value));
}

function canonical(objs: Array<Record<string, string>>): string[] {
  return objs
    .map((o) =>
      JSON.stringify(
        Object.entries(o)
          .filter(([, v]) => v !== "")
          .sort(([a], [b]) => (a < b ? -1 : 1)),
      ),
    )
    .sort();
}

describe("Matcher (Prometheus model/labels cases)", () => {
  const supported = matcherCases;
  it(`matches ${supported.length} cases exactly as Prometheus`, () => {
    const failures: string[] = [];
    for (const c of supported) {
      const m = new Matcher(c.type, c.name, c.value);
      if (m.matches(c.input) !== c.match)
        failures.push(`${m} on ${JSON.stringify(c.input)}: want ${c.match}`);
    }
    assert.deepEqual(failures.slice(0, 20), []);
  });

  it("anchors regexes and lets . match newlines", () => {
    assert.equal(new Matcher("=~", "a", "foo").matches("xfoo"), false);
    assert.equal(new Matcher("=~", "a", "foo|bar").matches("foobar"), false);
    assert.equal(new Matcher("=~", "a", "a.b").matches("a\nb"), true);
    assert.equal(new Matcher("=~", "a", "(?i)FOO").matches("foo"), true);
  });

  it("rejects invalid regexes with the pattern in the message", () => {
    assert.throws(() => new Matcher("=~", "a", "(unclosed"), /\(unclosed/);
  });
});

describe("TSDB postings for matchers (Prometheus tsdb cases)", () => {
  const db = openWith(postingsSeries);
  after(() => db.close());
  for (const c of postingsCases) {
    const text = c.matchers.map(([n, t, v]) => `${n}${t}${JSON.stringify(v)}`).join(", ");
    it(`{${text}}`, () => {
      const q = db.querier(Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
      const set = q.select(true, undefined, ...matchers(c.matchers));
      const got: Array<Record<string, string>> = [];
      while (set.next()) got.push(labelsToObject(set.at().labels));
      assert.deepEqual(canonical(got), canonical(c.expected));
    });
  }
});

describe("TSDB label values and names with matchers", () => {
  for (const c of labelValuesCases) {
    it(`values of ${c.name} where ${JSON.stringify(c.matchers)} (${c.source})`, () => {
      const db = openWith(c.series);
      try {
        const got = db.querier(0, 10_000).labelValues(c.name, ...matchers(c.matchers));
        assert.deepEqual(got, [...c.expected].sort());
      } finally {
        db.close();
      }
    });
  }
  for (const c of labelNamesCases) {
    it(`names where ${JSON.stringify(c.matchers)} (${c.source})`, () => {
      const db = openWith(c.series);
      try {
        const got = db.querier(0, 10_000).labelNames(...matchers(c.matchers));
        assert.deepEqual(got, [...c.expected].sort());
      } finally {
        db.close();
      }
    });
  }
});
