import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { xxhash64 } from "../../src/promql/engine/xxhash.js";

describe("xxhash64", () => {
  it("matches the reference test vectors", () => {
    const e = new TextEncoder();
    assert.equal(xxhash64(e.encode("")), 0xef46db3751d8e999n);
    assert.equal(xxhash64(e.encode("a")), 0xd24ec4f1a98c6e5bn);
    assert.equal(xxhash64(e.encode("abc")), 0x44bc2cf5ad770999n);
    assert.equal(xxhash64(e.encode("Nobody inspects the spammish repetition")), 0xfbcea83c8a378bf1n);
  });
});
