/** SSE event splitting and classification, including events split at every possible byte. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inspectEvent, SseSplitter } from "../../src/gateway/sse.js";

const EVENTS = [
  'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n',
  'data: {"choices":[{"index":0,"delta":{"content":"Hé"}}]}\r\n\r\n',
  ": keep-alive comment\n\n",
  'data: {"choices":[{"index":0,"text":"x"}]}\n\n',
  'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"id":"1"}]}}]}\n\n',
  'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\n',
  "data: [DONE]\n\n",
];

function split(stream: Buffer, cuts: number[]): string[] {
  const s = new SseSplitter();
  const out: string[] = [];
  let from = 0;
  for (const c of [...cuts, stream.length]) {
    s.push(stream.subarray(from, c), (b, a, e) => out.push(b.toString("utf8", a, e)));
    from = c;
  }
  const tail = s.takeTail();
  if (tail) out.push(tail.toString());
  return out;
}

describe("gateway SSE", () => {
  const stream = Buffer.from(EVENTS.join(""));

  it("finds the same events wherever the chunks are cut", () => {
    for (let i = 0; i <= stream.length; i++) assert.deepEqual(split(stream, [i]), EVENTS, `cut at ${i}`);
    for (let i = 0; i < 200; i++) {
      const cuts = Array.from({ length: 5 }, () => Math.floor(Math.random() * stream.length)).sort(
        (a, b) => a - b,
      );
      assert.deepEqual(split(stream, cuts), EVENTS, `cuts ${cuts}`);
    }
    // Byte by byte.
    assert.deepEqual(
      split(
        stream,
        Array.from({ length: stream.length }, (_, i) => i),
      ),
      EVENTS,
    );
  });

  it("keeps an unfinished event as the tail", () => {
    assert.deepEqual(split(Buffer.from('data: {"a":1}\n\ndata: {"b"'), []), [
      'data: {"a":1}\n\n',
      'data: {"b"',
    ]);
  });

  it("classifies events", () => {
    const info = EVENTS.map((e) => {
      const b = Buffer.from(e);
      return inspectEvent(b, 0, b.length);
    });
    assert.deepEqual(
      info.map((i) => i.content),
      [false, true, false, true, true, false, false],
    );
    assert.deepEqual(info[5].usage, { inputTokens: 3, outputTokens: 4 });
    assert.equal(info[5].usageOnly, true);
    assert.equal(info[6].done, true);
    const err = Buffer.from('data: {"error":{"message":"x"}}\n\n');
    assert.equal(inspectEvent(err, 0, err.length).error, true);
    const multi = Buffer.from('data: {"choices":\ndata: [{"text":"y"}]}\n\n');
    assert.equal(inspectEvent(multi, 0, multi.length).content, true);
    const withUsage = Buffer.from(
      'data: {"choices":[{"text":"z"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n',
    );
    const w = inspectEvent(withUsage, 0, withUsage.length);
    assert.equal(w.usageOnly, false, "usage riding on a content chunk is never stripped");
    assert.equal(w.content, true);
  });
});
