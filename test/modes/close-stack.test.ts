import assert from "node:assert/strict";
import { test } from "node:test";
import { CloseStack } from "../../src/modes/close-stack.js";

test("closes newest first, goes on past a failing close, and is empty afterwards", async () => {
  const order: string[] = [];
  const errors: unknown[] = [];
  const stack = new CloseStack((err) => errors.push(err));
  stack.push(() => {
    order.push("storage");
  });
  stack.push(async () => {
    await new Promise((r) => setTimeout(r, 5));
    order.push("api");
    throw new Error("api would not stop");
  });
  stack.push(() => {
    order.push("gateway");
  });
  await stack.closeAll();
  assert.deepEqual(order, ["gateway", "api", "storage"]);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /api would not stop/);
  await stack.closeAll();
  assert.deepEqual(order, ["gateway", "api", "storage"], "a second closeAll closes nothing again");
});
