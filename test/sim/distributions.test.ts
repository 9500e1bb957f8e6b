import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bernoulli,
  deriveSeed,
  exponential,
  lognormal,
  poissonArrivals,
  sample,
  sampleCount,
  standardNormal,
} from "../../src/sim/distributions.js";
import { estimateChatPromptTokens, estimateCompletionPromptTokens } from "../../src/sim/openai.js";
import { mulberry32 } from "../../src/sim/random.js";
import { parseSse, SseParser } from "../../src/sim/sse-parser.js";
import { median } from "./helpers.js";

const N = 20_000;

test("lognormal: median and spread as configured", () => {
  const rand = mulberry32(1);
  const xs = Array.from({ length: N }, () => lognormal(rand, 0.08, 0.4));
  assert.ok(Math.abs(median(xs) / 0.08 - 1) < 0.02, `median ${median(xs)}`);
  const logs = xs.map((x) => Math.log(x / 0.08));
  const sd = Math.sqrt(logs.reduce((a, b) => a + b * b, 0) / N);
  assert.ok(Math.abs(sd - 0.4) < 0.01, `sigma ${sd}`);
  assert.equal(lognormal(rand, 3, 0), 3);
  assert.throws(() => lognormal(rand, 0, 1));
});

test("standard normal: mean 0, variance 1", () => {
  const rand = mulberry32(2);
  const xs = Array.from({ length: N }, () => standardNormal(rand));
  const mean = xs.reduce((a, b) => a + b, 0) / N;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / N;
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(v - 1) < 0.03, `mean ${mean} var ${v}`);
});

test("exponential gaps and Poisson arrivals: mean gap 1/rate, counts per window ~ rate", () => {
  const rand = mulberry32(3);
  const gaps = Array.from({ length: N }, () => exponential(rand, 4));
  const mean = gaps.reduce((a, b) => a + b, 0) / N;
  assert.ok(Math.abs(mean / 0.25 - 1) < 0.03, `mean gap ${mean}`);
  const it = poissonArrivals(mulberry32(4), 5);
  let n = 0;
  while (it.next().value < 1000) n++;
  assert.ok(Math.abs(n / 5000 - 1) < 0.05, `${n} arrivals in 1000 s at 5/s`);
});

test("config distributions, counts, bernoulli, seeds", () => {
  const rand = mulberry32(5);
  assert.equal(sample(rand, { kind: "constant", value: 7 }), 7);
  for (let i = 0; i < 1000; i++) {
    const u = sample(rand, { kind: "uniform", min: 2, max: 3 });
    assert.ok(u >= 2 && u < 3);
    const l = sample(rand, { kind: "lognormal", median: 100, sigma: 2, min: 10, max: 200 });
    assert.ok(l >= 10 && l <= 200);
    assert.ok(sampleCount(rand, { kind: "constant", value: 0.2 }) === 1);
  }
  assert.equal(
    bernoulli(() => 0.999, 1),
    true,
  );
  assert.equal(
    bernoulli(() => 0, 0),
    false,
  );
  const seeds = new Set(Array.from({ length: 1000 }, (_, i) => deriveSeed(1, i)));
  assert.equal(seeds.size, 1000);
  assert.notEqual(deriveSeed(1, 0), deriveSeed(2, 0));
});

test("prompt-token estimate: ceil(chars / 4) over all text, at least 1", () => {
  assert.equal(estimateCompletionPromptTokens("abcde"), 2);
  assert.equal(estimateCompletionPromptTokens(""), 1);
  assert.equal(estimateCompletionPromptTokens(["abcd", "e"]), 2);
  assert.equal(estimateCompletionPromptTokens([1, 2, 3]), 3);
  assert.equal(estimateCompletionPromptTokens([[1, 2], [3]]), 3);
  assert.equal(
    estimateChatPromptTokens([
      { role: "system", content: "abc" },
      { role: "user", content: [{ type: "text", text: "defgh" }, { type: "image_url" }] },
    ]),
    2,
  );
});

test("SSE parser: events split anywhere, CRLF, multi-line data, comments", () => {
  const body = 'data: {"a":1}\n\n: keep-alive\n\ndata: x\r\ndata: y\r\n\r\ndata:[DONE]\n\n';
  assert.deepEqual(parseSse(body), ['{"a":1}', "x\ny", "[DONE]"]);
  const p = new SseParser();
  const out: string[] = [];
  for (const ch of body) out.push(...p.feed(ch));
  assert.deepEqual(out, ['{"a":1}', "x\ny", "[DONE]"]);
  assert.equal(p.pending, "");
  p.feed("data: trunc");
  assert.equal(p.pending, "data: trunc");
});
