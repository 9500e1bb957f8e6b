import assert from "node:assert/strict";
import { test } from "node:test";
import { FUNCTION_CALLS } from "../../src/promql/engine/function-calls.js";
import { newEngine } from "../../src/promql/engine.js";
import { FUNCTIONS } from "../../src/promql/functions.js";
import type { Queryable } from "../../src/storage/index.js";

// vector(1) reads nothing: a queryable that would fail the test if it were asked.
const NOTHING: Queryable = {
  querier() {
    throw new Error("no storage in this test");
  },
};

test("every function signature has exactly one implementation entry, and no entry lacks a signature", () => {
  assert.deepEqual(Object.keys(FUNCTION_CALLS).sort(), [...FUNCTIONS.keys()].sort());
});

test("a function without an implementation yet says so instead of answering wrongly", () => {
  const engine = newEngine({ experimentalFunctions: true });
  const unsupported = Object.entries(FUNCTION_CALLS)
    .filter(([, impl]) => impl.kind === "unsupported")
    .map(([name]) => name);
  assert.ok(unsupported.includes("histogram_count"));
  for (const name of unsupported) {
    assert.throws(
      () => engine.instantQuery(NOTHING, `${name}(vector(1))`, 0),
      new RegExp(`function "${name}" is not supported yet`),
    );
  }
});
