/**
 * TTFT and TPOT as the gateway measures them: TTFT = arrival → first content token forwarded;
 * TPOT = (last − first) / (tokens − 1).
 *
 * The formulas are checked on a clock the test drives (the gateway's `monotonicNow`) against an
 * upstream that writes each event only when the test says so, after the client has received the
 * one before: every clock reading the gateway takes is a value the test set, so the figures are
 * exact whatever the machine's load. Timing real sleeps instead would test the machine's timers,
 * which belongs in bench/gateway-latency.ts. One request on the real clock checks that the default
 * clock counts milliseconds, with bounds far from the expected value.
 */
import assert from "node:assert/strict";
import http, { type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { type Gateway, startGateway } from "../../src/gateway/proxy.js";
import { configFor, KEY_A, nullAppendable, type Rig, startRig } from "./harness.js";
import { request } from "./mock-upstream.js";

/** An upstream whose stream advances one event per `next()`, for a clock driven by the test. */
interface SteppedUpstream {
  base: string;
  /** Resolves with the response of the next request that arrives. */
  nextRequest(): Promise<ServerResponse>;
  close(): Promise<void>;
}

async function startSteppedUpstream(): Promise<SteppedUpstream> {
  const waiting: Array<(res: ServerResponse) => void> = [];
  const arrived: ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.flushHeaders();
      const w = waiting.shift();
      if (w) w(res);
      else arrived.push(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}/v1`,
    nextRequest: () =>
      new Promise((resolve) => {
        const res = arrived.shift();
        if (res) resolve(res);
        else waiting.push(resolve);
      }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: "cmpl-test",
    object: "chat.completion.chunk",
    created: 1700000000,
    model: "small-8b",
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;

/** A streamed chat completion through the gateway; `received(text)` waits until the client has it. */
function openStream(url: string): { received(text: string): Promise<void>; done: Promise<void> } {
  let got = "";
  let wanted: { text: string; resolve: () => void } | null = null;
  const check = () => {
    if (wanted !== null && got.includes(wanted.text)) {
      const w = wanted;
      wanted = null;
      w.resolve();
    }
  };
  let finished: () => void = () => {};
  const done = new Promise<void>((r) => {
    finished = r;
  });
  const req = http.request(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY_A}` },
  });
  req.on("response", (res) => {
    res.setEncoding("utf8");
    res.on("data", (s: string) => {
      got += s;
      check();
    });
    res.on("end", finished);
  });
  req.end(JSON.stringify({ model: "small-8b", messages: [], stream: true }));
  return {
    received: (text) =>
      new Promise((resolve) => {
        wanted = { text, resolve };
        check();
      }),
    done,
  };
}

describe("gateway latency measurements", () => {
  let upstream: SteppedUpstream;
  let gw: Gateway;
  let clockMs = 0;
  before(async () => {
    upstream = await startSteppedUpstream();
    gw = await startGateway({
      config: configFor(upstream.base),
      appendable: nullAppendable,
      listen: "127.0.0.1:0",
      flushIntervalMs: 0,
      monotonicNow: () => clockMs,
      closeGraceMs: 500,
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /**
   * One stream: arrival at `at`, the role chunk at once, the first content token `ttftMs` later,
   * the others `tpotMs` apart. Each event is written after the client got the previous one, so
   * the gateway reads the clock for it while the clock shows that event's time.
   */
  async function stream(at: number, ttftMs: number, tpotMs: number, tokens: number): Promise<void> {
    clockMs = at;
    const client = openStream(`${gw.url}/v1/chat/completions`);
    const res = await upstream.nextRequest();
    res.write(chunk({ role: "assistant", content: "" }));
    // The role chunk carries no content and must not count as the first token.
    await client.received('"role":"assistant"');
    for (let i = 0; i < tokens; i++) {
      clockMs = at + ttftMs + i * tpotMs;
      res.write(chunk({ content: `tok${i} ` }));
      await client.received(`tok${i} `);
    }
    // After the last token, time goes on: the finish chunk and [DONE] must not move "last".
    clockMs += 1000;
    res.write(chunk({}, "stop"));
    res.write(
      `data: ${JSON.stringify({ id: "cmpl-test", object: "chat.completion.chunk", created: 1700000000, model: "small-8b", choices: [], usage: { prompt_tokens: 3, completion_tokens: tokens, total_tokens: 3 + tokens } })}\n\n`,
    );
    res.end("data: [DONE]\n\n");
    await client.done;
  }

  it("measures TTFT from arrival to the first content token, TPOT over the tokens after it", async () => {
    await stream(10_000, 200, 40, 6);
    await stream(20_000, 350, 10, 6);
    const s = gw.meter.read("proj-a", "small-8b", "on_demand");
    assert.ok(s);
    assert.equal(s.ttft.count, 2);
    assert.equal(s.tpot.count, 2);
    assert.equal(s.outputTokens, 12);
    const near = (got: number, want: number, what: string) =>
      assert.ok(Math.abs(got - want) < 1e-9, `${what}: ${got}, want ${want}`);
    near(s.ttft.sum, 0.2 + 0.35, "TTFT sum");
    // (last − first) / (tokens − 1): 5 gaps each, not 6 (off by a token) nor from arrival.
    near(s.tpot.sum, 0.04 + 0.01, "TPOT sum");
    // Buckets are cumulative (le, inclusive) and agree with count.
    const ttftLe = (b: number) => s.ttft.cumulative[s.ttft.bounds.indexOf(b)];
    assert.deepEqual([ttftLe(0.15), ttftLe(0.2), ttftLe(0.3), ttftLe(0.4)], [0, 1, 1, 2]);
    assert.equal(s.ttft.cumulative.at(-1), 2);
    const tpotLe = (b: number) => s.tpot.cumulative[s.tpot.bounds.indexOf(b)];
    assert.deepEqual([tpotLe(0.0075), tpotLe(0.01), tpotLe(0.035), tpotLe(0.04)], [0, 1, 1, 2]);
  });
});

describe("gateway latency on the real clock", () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ tokens: 1, ttftMs: 50 });
  });
  after(() => rig.close());

  it("observes TTFT (in seconds of the default clock) but not TPOT for a single-token stream", async () => {
    await request(`${rig.v1}/completions`, {
      body: { model: "big-70b", prompt: "x", stream: true },
      key: KEY_A,
    });
    const s = rig.gw.meter.read("proj-a", "big-70b", "pt");
    assert.ok(s);
    assert.equal(s.ttft.count, 1);
    assert.equal(s.tpot.count, 0);
    assert.equal(s.outputTokens, 1);
    // The mock waits 50 ms before the token. Half of that below (timers may fire a little early
    // against the clock) and ten times above: a clock in other units, or none, is far outside.
    assert.ok(s.ttft.sum >= 0.025 && s.ttft.sum < 0.5, `TTFT ${s.ttft.sum} s`);
  });
});
