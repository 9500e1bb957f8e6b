/**
 * The gateway as an OpenAI-compatible proxy: bytes pass through unchanged (but for the usage
 * chunk it asked for itself), usage is read, requests and tokens are counted exactly, and its own
 * errors (key, model, route, body) come in OpenAI's shape.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KEY_A, KEY_B, KEY_C, type Rig, startRig } from "./harness.js";
import { request } from "./mock-upstream.js";

const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: "user", content: "hi" }],
  ...extra,
});

describe("gateway proxy", () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ tokens: 5, promptTokens: 7 });
  });
  after(() => rig.close());

  it("passes a non-streamed completion through byte for byte and counts its usage", async () => {
    const direct = await request(`${rig.mock.base}/chat/completions`, { body: chat("small-8b") });
    const via = await request(`${rig.v1}/chat/completions`, { body: chat("small-8b"), key: KEY_A });
    assert.equal(via.status, 200);
    assert.deepEqual(via.body, direct.body);
    assert.equal(via.headers["content-type"], "application/json");
    assert.equal(via.headers["x-request-id"], "req-mock");
    const s = rig.gw.meter.read("proj-a", "small-8b", "on_demand");
    assert.ok(s);
    assert.equal(s.requests, 1);
    assert.equal(s.inputTokens, 7);
    assert.equal(s.outputTokens, 5);
    // Non-streamed requests do not feed the latency histograms (their "first token" is the whole answer).
    assert.equal(s.ttft.count, 0);
  });

  it("sends the upstream key, never the client's", () => {
    const seen = rig.mock.requests.at(-1);
    assert.equal(seen?.headers.authorization, "Bearer upstream-secret");
    assert.equal(seen?.headers["accept-encoding"], "identity");
  });

  it("streams byte for byte, asking for usage and stripping the usage chunk", async () => {
    const body = chat("small-8b", { stream: true });
    const direct = await request(`${rig.mock.base}/chat/completions`, { body });
    const via = await request(`${rig.v1}/chat/completions`, { body, key: KEY_A });
    assert.equal(via.status, 200);
    assert.equal(via.headers["content-type"], "text/event-stream");
    assert.equal(via.body.toString(), direct.body.toString());
    assert.deepEqual(via.body, direct.body);
    assert.ok(!via.body.toString().includes('"usage"'));
    const seen = rig.mock.requests.at(-1);
    assert.deepEqual(seen?.body.stream_options, { include_usage: true });
    assert.deepEqual(seen?.body.messages, body.messages);
    const s = rig.gw.meter.read("proj-a", "small-8b", "on_demand");
    assert.equal(s?.requests, 2);
    assert.equal(s?.inputTokens, 14);
    assert.equal(s?.outputTokens, 10);
    assert.equal(s?.ttft.count, 1);
    assert.equal(s?.tpot.count, 1);
  });

  it("passes the usage chunk on when the client asked for it", async () => {
    const body = chat("small-8b", { stream: true, stream_options: { include_usage: true } });
    const direct = await request(`${rig.mock.base}/chat/completions`, { body });
    const via = await request(`${rig.v1}/chat/completions`, { body, key: KEY_A });
    assert.deepEqual(via.body, direct.body);
    assert.ok(via.body.toString().includes('"usage":{"prompt_tokens":7'));
  });

  it("merges include_usage into other stream_options and strips the chunk", async () => {
    const body = chat("small-8b", { stream: true, stream_options: { include_usage: false, other: 1 } });
    const via = await request(`${rig.v1}/chat/completions`, { body, key: KEY_A });
    assert.ok(!via.body.toString().includes('"usage"'));
    assert.deepEqual(rig.mock.requests.at(-1)?.body.stream_options, { include_usage: true, other: 1 });
  });

  it("handles /v1/completions, streamed and not, with events split across writes", async () => {
    rig.mock.scenario.splitEvents = true;
    try {
      const body = { model: "big-70b", prompt: "once", stream: true };
      const direct = await request(`${rig.mock.base}/completions`, { body });
      const via = await request(`${rig.v1}/completions`, { body, key: KEY_B });
      assert.deepEqual(via.body, direct.body);
      const plain = await request(`${rig.v1}/completions`, {
        body: { model: "big-70b", prompt: "x" },
        key: KEY_B,
      });
      assert.equal(plain.status, 200);
      const s = rig.gw.meter.read("proj-b", "big-70b", "pt");
      assert.equal(s?.requests, 2);
      assert.equal(s?.outputTokens, 10);
      assert.equal(s?.inputTokens, 14);
    } finally {
      rig.mock.scenario.splitEvents = false;
    }
  });

  it("counts content events when the upstream sends no usage", async () => {
    rig.mock.scenario.usage = false;
    try {
      const before = rig.gw.meter.read("proj-b", "small-8b", "on_demand");
      const via = await request(`${rig.v1}/chat/completions`, {
        body: chat("small-8b", { stream: true }),
        key: KEY_B,
      });
      assert.equal(via.status, 200);
      const s = rig.gw.meter.read("proj-b", "small-8b", "on_demand");
      assert.equal((s?.requests ?? 0) - (before?.requests ?? 0), 1);
      assert.equal((s?.outputTokens ?? 0) - (before?.outputTokens ?? 0), 5);
      assert.equal((s?.inputTokens ?? 0) - (before?.inputTokens ?? 0), 0);
    } finally {
      rig.mock.scenario.usage = true;
    }
  });

  it("reads and strips a usage chunk that ends the stream without its blank line", async () => {
    const content = 'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n';
    const usage = 'data: {"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}';
    rig.mock.scenario.rawStream = content + content + usage;
    try {
      const before = rig.gw.meter.read("proj-c", "big-70b", "pt");
      const via = await request(`${rig.v1}/chat/completions`, {
        body: chat("big-70b", { stream: true }),
        key: KEY_C,
      });
      assert.equal(via.body.toString(), content + content);
      const s = rig.gw.meter.read("proj-c", "big-70b", "pt");
      assert.equal((s?.inputTokens ?? 0) - (before?.inputTokens ?? 0), 2);
      assert.equal((s?.outputTokens ?? 0) - (before?.outputTokens ?? 0), 3);
    } finally {
      rig.mock.scenario.rawStream = undefined;
    }
  });

  it("counts requests and tokens exactly under concurrency", async () => {
    const before = {
      a: rig.gw.meter.read("proj-a", "big-70b", "pt"),
      b: rig.gw.meter.read("proj-b", "big-70b", "pt"),
    };
    rig.mock.scenario.tokens = 3;
    rig.mock.scenario.promptTokens = 11;
    try {
      const jobs = [];
      for (let i = 0; i < 60; i++) {
        const key = i % 3 === 0 ? KEY_B : KEY_A;
        jobs.push(
          request(`${rig.v1}/chat/completions`, { body: chat("big-70b", { stream: i % 2 === 0 }), key }),
        );
      }
      const results = await Promise.all(jobs);
      for (const r of results) assert.equal(r.status, 200);
    } finally {
      rig.mock.scenario.tokens = 5;
      rig.mock.scenario.promptTokens = 7;
    }
    const a = rig.gw.meter.read("proj-a", "big-70b", "pt");
    const b = rig.gw.meter.read("proj-b", "big-70b", "pt");
    assert.equal((a?.requests ?? 0) - (before.a?.requests ?? 0), 40);
    assert.equal((b?.requests ?? 0) - (before.b?.requests ?? 0), 20);
    assert.equal((a?.outputTokens ?? 0) - (before.a?.outputTokens ?? 0), 120);
    assert.equal((a?.inputTokens ?? 0) - (before.a?.inputTokens ?? 0), 440);
    assert.equal((b?.outputTokens ?? 0) - (before.b?.outputTokens ?? 0), 60);
    assert.equal((a?.ttft.count ?? 0) - (before.a?.ttft.count ?? 0), 20); // the streamed half
  });

  it("accepts a key configured by its SHA-256", async () => {
    const r = await request(`${rig.v1}/chat/completions`, { body: chat("small-8b"), key: KEY_C });
    assert.equal(r.status, 200);
    assert.equal(rig.gw.meter.read("proj-c", "small-8b", "on_demand")?.requests, 1);
  });

  it("answers 401 in OpenAI's shape for a missing or unknown key", async () => {
    const none = await request(`${rig.v1}/chat/completions`, { body: chat("small-8b") });
    assert.equal(none.status, 401);
    const bad = await request(`${rig.v1}/chat/completions`, {
      body: chat("small-8b"),
      key: "sk-nope-123456",
    });
    assert.equal(bad.status, 401);
    const err = JSON.parse(bad.body.toString()) as { error: Record<string, unknown> };
    assert.equal(err.error.code, "invalid_api_key");
    assert.equal(err.error.type, "invalid_request_error");
    assert.equal(err.error.param, null);
    assert.ok(!String(err.error.message).includes("sk-nope-123456"), "never echo a whole key");
    const models = await request(`${rig.v1}/models`, { key: "wrong" });
    assert.equal(models.status, 401);
  });

  it("answers 404 in OpenAI's shape for an unknown model, without a series for it", async () => {
    const r = await request(`${rig.v1}/chat/completions`, { body: chat("gpt-17"), key: KEY_A });
    assert.equal(r.status, 404);
    const err = JSON.parse(r.body.toString()) as { error: Record<string, unknown> };
    assert.equal(err.error.code, "model_not_found");
    assert.match(String(err.error.message), /gpt-17/);
    assert.equal(rig.gw.meter.read("proj-a", "gpt-17", "on_demand"), undefined);
  });

  it("lists the configured models", async () => {
    const r = await request(`${rig.v1}/models`, { key: KEY_A });
    assert.equal(r.status, 200);
    const list = JSON.parse(r.body.toString()) as {
      object: string;
      data: Array<{ id: string; object: string }>;
    };
    assert.equal(list.object, "list");
    assert.deepEqual(list.data.map((m) => m.id).sort(), ["big-70b", "small-8b"]);
    const one = await request(`${rig.v1}/models/small-8b`, { key: KEY_A });
    assert.equal(JSON.parse(one.body.toString()).id, "small-8b");
    const missing = await request(`${rig.v1}/models/nope`, { key: KEY_A });
    assert.equal(missing.status, 404);
  });

  it("rejects bad bodies, routes and methods with OpenAI-shaped errors", async () => {
    const raw = await fetch(`${rig.v1}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY_A}`, "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(raw.status, 400);
    assert.equal(((await raw.json()) as { error: { type: string } }).error.type, "invalid_request_error");
    const noModel = await request(`${rig.v1}/chat/completions`, { body: { messages: [] }, key: KEY_A });
    assert.equal(noModel.status, 400);
    const route = await request(`${rig.v1}/embeddings`, { body: chat("small-8b"), key: KEY_A });
    assert.equal(route.status, 404);
    const method = await request(`${rig.v1}/chat/completions`, { method: "GET", key: KEY_A });
    assert.equal(method.status, 405);
  });

  it("refuses bodies over max_body_bytes with 413", async () => {
    const small = await startRig({}, { extra: { max_body_bytes: 200 } });
    try {
      const big = await request(`${small.v1}/chat/completions`, {
        body: chat("small-8b", { pad: "x".repeat(500) }),
        key: KEY_A,
      });
      assert.equal(big.status, 413);
      assert.equal(small.mock.requests.length, 0);
      const ok = await request(`${small.v1}/chat/completions`, { body: chat("small-8b"), key: KEY_A });
      assert.equal(ok.status, 200);
    } finally {
      await small.close();
    }
  });

  it("passes upstream errors through unchanged and counts them by reason", async () => {
    for (const [status, reason] of [
      [400, "upstream_4xx"],
      [429, "rate_limited"],
      [503, "upstream_5xx"],
    ] as const) {
      rig.mock.scenario.status = status;
      const direct = await request(`${rig.mock.base}/chat/completions`, { body: chat("small-8b") });
      const via = await request(`${rig.v1}/chat/completions`, {
        body: chat("small-8b", { stream: true }),
        key: KEY_B,
      });
      assert.equal(via.status, status);
      assert.deepEqual(via.body, direct.body);
      assert.equal(via.headers["x-mock"], "1");
      assert.equal(rig.gw.meter.read("proj-b", "small-8b", "on_demand")?.errors[reason], 1);
    }
    rig.mock.scenario.status = undefined;
  });
});
