import assert from "node:assert/strict";
import { test } from "node:test";
import { addId, intersect, merge, removeId, subtract } from "../../src/tsdb/postings.js";

test("addId and removeId keep a postings list sorted and without repeats", () => {
  const list: number[] = [];
  for (const id of [5, 9, 1, 7, 9, 3, 5, 11]) addId(list, id);
  assert.deepEqual(list, [1, 3, 5, 7, 9, 11]);
  removeId(list, 7);
  removeId(list, 4);
  removeId(list, 1);
  removeId(list, 11);
  assert.deepEqual(list, [3, 5, 9]);
  // Against a plain model over many random operations.
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % 200;
  };
  const model = new Set<number>();
  const fast: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const id = random();
    if (i % 3 === 0) {
      removeId(fast, id);
      model.delete(id);
    } else {
      addId(fast, id);
      model.add(id);
    }
  }
  assert.deepEqual(
    fast,
    [...model].sort((a, b) => a - b),
  );
});

test("set operations on sorted postings", () => {
  assert.deepEqual(intersect([1, 3, 5, 7], [3, 4, 5, 8]), [3, 5]);
  assert.deepEqual(subtract([1, 3, 5, 7], [3, 7]), [1, 5]);
  assert.deepEqual(merge([[1, 5], [2, 5, 9], []]), [1, 2, 5, 9]);
});
