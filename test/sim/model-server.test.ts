import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type RunningModelServer, startModelServer } from "../../src/sim/model-server.js";
import { parseSse } from "../../src/sim/sse-parser.js";
import { TokenClock } from "../../src/sim/token-clock.js";
import { FakeTime } from "../support/fake-time.js";
import { until } from "../support/until.js";
import { postJson, postStream } from "./helpers.js";

const FAST = { ttft: { median: 0.005, sigma: 0.1 }, tpot: { median: 0.001, sigma: 0.1 } };
const MODEL = "sim-8b";
const USAGE_KEYS = ["completion_tokens", "prompt_tokens", "total_tokens"];

describe("mock model server: shapes", () => {
  let server: RunningModelServer;
  before(async () => {
    server = await startModelServer({
      models: { [MODEL]: { ...FAST, outputTokens: { kind: "constant", value: 7 } } },
      seed: 42,
    });
  });
  after(() => server.close());

  test("GET /v1/models lists the served models", async () => {
    const res = await fetch(`${server.baseUrl}/models`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { object: string; data: Array<Record<string, unknown>> };
    assert.equal(body.object, "list");
    assert.deepEqual(
      body.data.map((m) => [m.id, m.object, m.owned_by]),
      [[MODEL, "model", "sim"]],
    );
    assert.equal(typeof body.data[0].created, "number");
  });

  test("chat stream: role chunk, one token per chunk, finish chunk, [DONE]; no usage unless asked", async () => {
    const r = await postStream(`${server.baseUrl}/chat/completions`, {
      model: MODEL,
      messages: [{ role: "user", content: "Hello there, model!" }],
      max_tokens: 5,
      stream: true,
    });
    assert.equal(r.status, 200);
    assert.match(r.contentType ?? "", /^text\/event-stream/);
    assert.equal(r.data.at(-1), "[DONE]");
    assert.equal(r.chunks.length, 1 + 5 + 1);
    for (const c of r.chunks) {
      assert.equal(c.object, "chat.completion.chunk");
      assert.equal(c.model, MODEL);
      assert.equal(c.id, r.chunks[0].id);
      assert.equal(typeof c.created, "number");
      assert.ok(!("usage" in c), "no usage field at all when not asked");
    }
    const choices = r.chunks.map((c) => (c.choices as Array<Record<string, unknown>>)[0]);
    assert.deepEqual(choices[0], {
      index: 0,
      delta: { role: "assistant", content: "", refusal: null },
      logprobs: null,
      finish_reason: null,
    });
    for (const ch of choices.slice(1, 6)) {
      assert.deepEqual(Object.keys(ch.delta as object), ["content"]);
      assert.match((ch.delta as { content: string }).content, /^ \w+$/);
      assert.equal(ch.finish_reason, null);
    }
    assert.deepEqual(choices[6], { index: 0, delta: {}, logprobs: null, finish_reason: "length" });
  });

  test("chat stream with include_usage: usage null on every chunk, then the usage chunk", async () => {
    const content = "x".repeat(41); // ceil(41 / 4) = 11 prompt tokens
    const r = await postStream(`${server.baseUrl}/chat/completions`, {
      model: MODEL,
      messages: [{ role: "user", content }],
      max_completion_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(r.data.at(-1), "[DONE]");
    const last = r.chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 });
    assert.deepEqual(Object.keys(last.usage as object).sort(), USAGE_KEYS);
    for (const c of r.chunks.slice(0, -1)) assert.equal(c.usage, null);
    assert.equal(r.contentTokens, 3);
  });

  test("completions stream: text_completion chunks, finish_reason stop at the default length", async () => {
    const r = await postStream(`${server.baseUrl}/completions`, {
      model: MODEL,
      prompt: "Once upon a time",
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.equal(r.data.at(-1), "[DONE]");
    for (const c of r.chunks) assert.equal(c.object, "text_completion");
    const choices = r.chunks.slice(0, -1).map((c) => (c.choices as Array<Record<string, unknown>>)[0]);
    assert.equal(choices.length, 7 + 1, "no role chunk for completions");
    for (const ch of choices.slice(0, 7)) {
      assert.deepEqual(Object.keys(ch).sort(), ["finish_reason", "index", "logprobs", "text"]);
      assert.match(ch.text as string, /^ \w+$/);
    }
    assert.deepEqual(choices[7], { text: "", index: 0, logprobs: null, finish_reason: "stop" });
    assert.deepEqual(r.chunks.at(-1)!.usage, { prompt_tokens: 4, completion_tokens: 7, total_tokens: 11 });
  });

  test("non-streaming chat and completions: whole JSON with usage", async () => {
    const chat = await postJson(`${server.baseUrl}/chat/completions`, {
      model: MODEL,
      messages: [
        { role: "system", content: "abcd" },
        { role: "user", content: [{ type: "text", text: "efgh" }] },
      ],
      max_tokens: 4,
    });
    assert.equal(chat.status, 200);
    assert.equal(chat.body.object, "chat.completion");
    const choice = (chat.body.choices as Array<{ message: { role: string; content: string } }>)[0];
    assert.equal(choice.message.role, "assistant");
    assert.equal(choice.message.content.split(" ").length - 1, 4);
    assert.deepEqual(chat.body.usage, { prompt_tokens: 2, completion_tokens: 4, total_tokens: 6 });

    const cmpl = await postJson(`${server.baseUrl}/completions`, { model: MODEL, prompt: ["abcde", "fg"] });
    assert.equal(cmpl.body.object, "text_completion");
    const c = (cmpl.body.choices as Array<Record<string, unknown>>)[0];
    assert.equal(c.finish_reason, "stop");
    assert.deepEqual(cmpl.body.usage, { prompt_tokens: 3, completion_tokens: 7, total_tokens: 10 });
  });

  test("unknown model, bad JSON, bad fields and unknown paths: OpenAI error bodies", async () => {
    const unknown = await postJson(`${server.baseUrl}/chat/completions`, {
      model: "nope",
      messages: [{ role: "user", content: "hi" }],
    });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, {
      error: {
        message: "The model `nope` does not exist or you do not have access to it.",
        type: "invalid_request_error",
        param: null,
        code: "model_not_found",
      },
    });
    const badJson = await fetch(`${server.baseUrl}/completions`, { method: "POST", body: "{" });
    assert.equal(badJson.status, 400);
    const noMessages = await postJson(`${server.baseUrl}/chat/completions`, { model: MODEL });
    assert.equal(noMessages.status, 400);
    assert.equal((noMessages.body.error as { param: string }).param, "messages");
    const badMax = await postJson(`${server.baseUrl}/completions`, {
      model: MODEL,
      prompt: "a",
      max_tokens: 0,
    });
    assert.equal(badMax.status, 400);
    const strayOptions = await postJson(`${server.baseUrl}/completions`, {
      model: MODEL,
      prompt: "a",
      stream_options: { include_usage: true },
    });
    assert.equal(strayOptions.status, 400, "stream_options without stream, as OpenAI and vLLM refuse it");
    const path = await fetch(`${server.baseUrl}/embeddings`, { method: "POST", body: "{}" });
    assert.equal(path.status, 404);
    assert.equal(
      ((await path.json()) as { error: { message: string } }).error.message,
      "Invalid URL (POST /v1/embeddings)",
    );
    assert.equal(server.stats().rejected, 6);
  });

  test("stats count ok requests and their usage per model", () => {
    const s = server.stats();
    assert.equal(s.byModel[MODEL].requests, 5);
    assert.equal(s.byModel[MODEL].ok, 5);
    assert.equal(s.byModel[MODEL].promptTokens, 5 + 11 + 4 + 2 + 3);
    assert.equal(s.byModel[MODEL].completionTokens, 5 + 3 + 7 + 4 + 7);
    assert.deepEqual(s.total, s.byModel[MODEL]);
    assert.deepEqual(
      server.requestLog().map((r) => r.index),
      [0, 1, 2, 3, 4],
    );
  });
});

describe("mock model server: faults", () => {
  const body = (n: number) => ({ model: MODEL, prompt: "p", max_tokens: n, stream: true });

  test("deterministic faults: error status, cut mid-stream, stall until close", async () => {
    const server = await startModelServer({
      models: { [MODEL]: FAST },
      fault: (r) =>
        r.index === 0
          ? { kind: "error", status: 503 }
          : r.index === 1
            ? { kind: "cut", afterTokens: 3 }
            : r.index === 2
              ? { kind: "stall", afterTokens: 2 }
              : r.index === 3
                ? { kind: "cut", afterTokens: 0 }
                : undefined,
    });
    try {
      const e = await postJson(`${server.baseUrl}/completions`, body(5));
      assert.equal(e.status, 503);
      assert.equal((e.body.error as { type: string }).type, "server_error");

      // A cut stream: the body ends with an error after 3 tokens and without [DONE].
      const res = await fetch(`${server.baseUrl}/completions`, {
        method: "POST",
        body: JSON.stringify(body(10)),
      });
      assert.equal(res.status, 200);
      let text = "";
      await assert.rejects(async () => {
        for await (const b of res.body!) text += Buffer.from(b).toString();
      });
      const cut = parseSse(text);
      assert.equal(cut.length, 3);
      assert.ok(!cut.includes("[DONE]"));

      // A stalled stream: 2 tokens, then silence until the client gives up.
      const ac = new AbortController();
      const stalled = await fetch(`${server.baseUrl}/completions`, {
        method: "POST",
        body: JSON.stringify(body(10)),
        signal: ac.signal,
      });
      const reader = stalled.body!.getReader();
      let got = "";
      while (parseSse(got).length < 2) got += Buffer.from((await reader.read()).value!).toString();
      ac.abort();
      await reader.read().catch(() => undefined);
      // The server learns of the abort when the connection closes, not when the client returns.
      await until(() => server.stats().byModel[MODEL].stalled === 1, "the stalled stream recorded");

      // Cut before the first token: headers, then the connection drops.
      const early = await fetch(`${server.baseUrl}/completions`, {
        method: "POST",
        body: JSON.stringify(body(10)),
      });
      assert.equal(early.status, 200);
      await assert.rejects(early.text());

      const s = server.stats().byModel[MODEL];
      assert.deepEqual([s.requests, s.ok, s.errors, s.cut, s.stalled], [4, 0, 1, 2, 1]);
      assert.deepEqual(
        server.requestLog().map((r) => [r.outcome, r.tokensSent]),
        [
          ["error", 0],
          ["cut", 3],
          ["stalled", 2],
          ["cut", 0],
        ],
      );
    } finally {
      await server.close();
    }
  });

  test("roleChunk immediate: the role chunk arrives before TTFT", async () => {
    // Fake time stands still: whatever arrives was written before any TTFT elapsed.
    const time = new FakeTime();
    const server = await startModelServer({
      models: { [MODEL]: { ttft: { median: 0.6, sigma: 0 }, tpot: { median: 0.001, sigma: 0 } } },
      roleChunk: "immediate",
      clock: new TokenClock(1, time),
    });
    try {
      const res = await fetch(`${server.baseUrl}/chat/completions`, {
        method: "POST",
        body: JSON.stringify({
          model: MODEL,
          messages: [{ role: "user", content: "hi" }],
          max_tokens: 2,
          stream: true,
        }),
      });
      const reader = res.body!.getReader();
      const first = parseSse(Buffer.from((await reader.read()).value!).toString());
      assert.equal(first.length, 1, "the role chunk alone, with no time gone by");
      const delta = (JSON.parse(first[0]) as { choices: Array<{ delta: object }> }).choices[0].delta;
      assert.deepEqual(delta, { role: "assistant", content: "", refusal: null });
      assert.equal(server.requestLog().length, 0, "the request is still open");
      time.runAll();
      let rest = "";
      for (let r = await reader.read(); !r.done; r = await reader.read())
        rest += Buffer.from(r.value).toString();
      const tokens = parseSse(rest).filter((d) => d.includes('"content":" '));
      assert.equal(tokens.length, 2);
      const [served] = server.requestLog();
      assert.equal(served.measuredTtft, 0.6, "the first token at exactly the TTFT");
    } finally {
      await server.close();
    }
  });

  test("close() ends open streams and stops the server", async () => {
    const server = await startModelServer({
      models: { [MODEL]: { ttft: { median: 0.01, sigma: 0 }, tpot: { median: 0.5, sigma: 0 } } },
    });
    const res = await fetch(`${server.baseUrl}/completions`, {
      method: "POST",
      body: JSON.stringify(body(100)),
    });
    const reading = (async () => {
      for await (const _ of res.body!);
    })();
    await new Promise((r) => setTimeout(r, 50));
    await server.close();
    await assert.rejects(reading);
    await assert.rejects(fetch(`${server.baseUrl}/models`));
  });
});
