/**
 * Failure paths: timeouts (before headers and mid-stream), an unreachable upstream, an upstream
 * that dies mid-stream or answers garbage, an error event in a stream, and clients that hang up.
 * Each is counted under its reason, none crashes the gateway, and it keeps serving afterwards.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { ErrorReason } from "../../src/gateway/meter.js";
import { startGateway } from "../../src/gateway/proxy.js";
import { configFor, KEY_A, nullAppendable, type Rig, startRig } from "./harness.js";
import { request, sleep } from "./mock-upstream.js";

const streamBody = { model: "small-8b", messages: [], stream: true };

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(5);
  }
}

describe("gateway failure handling", () => {
  let rig: Rig;
  const errorsOf = (reason: ErrorReason) =>
    rig.gw.meter.read("proj-a", "small-8b", "on_demand")?.errors[reason] ?? 0;
  const requests = () => rig.gw.meter.read("proj-a", "small-8b", "on_demand")?.requests ?? 0;

  before(async () => {
    rig = await startRig(
      { tokens: 5, tpotMs: 5 },
      { extra: { timeouts: { response_ms: 300, idle_ms: 300, total_ms: 5000 } } },
    );
  });
  after(() => rig.close());

  async function stillServes(): Promise<void> {
    const saved = { ...rig.mock.scenario };
    rig.mock.scenario = { tokens: 2, promptTokens: 1, ttftMs: 0, tpotMs: 0, usage: true };
    const r = await request(`${rig.v1}/chat/completions`, { body: streamBody, key: KEY_A });
    rig.mock.scenario = saved;
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), /\[DONE\]/);
  }

  it("answers 504 when the upstream sends no headers in time", async () => {
    rig.mock.scenario.hang = true;
    const r = await request(`${rig.v1}/chat/completions`, { body: streamBody, key: KEY_A });
    rig.mock.scenario.hang = false;
    assert.equal(r.status, 504);
    assert.equal(JSON.parse(r.body.toString()).error.code, "upstream_timeout");
    assert.equal(errorsOf("timeout"), 1);
    assert.equal(requests(), 1);
    await stillServes();
  });

  it("cuts a stream that goes idle and counts a timeout", async () => {
    rig.mock.scenario.stallAfter = 2;
    await assert.rejects(request(`${rig.v1}/chat/completions`, { body: streamBody, key: KEY_A }));
    rig.mock.scenario.stallAfter = undefined;
    await waitFor(() => errorsOf("timeout") === 2);
    await waitFor(() => rig.mock.requests.at(-1)?.aborted === true);
    await stillServes();
  });

  it("counts an upstream that drops the connection mid-stream as a bad response", async () => {
    rig.mock.scenario.dropAfter = 2;
    await assert.rejects(request(`${rig.v1}/chat/completions`, { body: streamBody, key: KEY_A }));
    rig.mock.scenario.dropAfter = undefined;
    await waitFor(() => errorsOf("bad_response") === 1);
    // The two tokens forwarded before the cut are counted, the first one timed.
    await stillServes();
  });

  it("counts an error event inside a stream as upstream_5xx and forwards it", async () => {
    rig.mock.scenario.errorEventAfter = 1;
    const r = await request(`${rig.v1}/chat/completions`, { body: streamBody, key: KEY_A });
    rig.mock.scenario.errorEventAfter = undefined;
    assert.match(r.body.toString(), /engine died/);
    assert.equal(errorsOf("upstream_5xx"), 1);
  });

  it("counts a 200 whose body is not JSON as a bad response, forwarding it unchanged", async () => {
    rig.mock.scenario.rawBody = "<html>oops</html>";
    const r = await request(`${rig.v1}/chat/completions`, {
      body: { model: "small-8b", messages: [] },
      key: KEY_A,
    });
    rig.mock.scenario.rawBody = undefined;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), "<html>oops</html>");
    assert.equal(errorsOf("bad_response"), 2);
  });

  it("records a client that hangs up mid-stream and aborts the upstream request", async () => {
    rig.mock.scenario.tpotMs = 100;
    rig.mock.scenario.tokens = 20;
    const before = errorsOf("client_disconnect");
    await new Promise<void>((resolve, reject) => {
      const req = http.request(`${rig.v1}/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${KEY_A}`, "content-type": "application/json" },
      });
      req.on("response", (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", () => {});
      req.on("close", () => resolve());
      req.end(JSON.stringify(streamBody));
      setTimeout(() => reject(new Error("no data")), 3000).unref();
    });
    rig.mock.scenario.tpotMs = 5;
    rig.mock.scenario.tokens = 5;
    await waitFor(() => errorsOf("client_disconnect") === before + 1);
    await waitFor(() => rig.mock.requests.at(-1)?.aborted === true);
    await stillServes();
  });

  it("records a client that hangs up before the upstream answers", async () => {
    rig.mock.scenario.ttftMs = 0;
    rig.mock.scenario.hang = true;
    const before = errorsOf("client_disconnect");
    const req = http.request(`${rig.v1}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY_A}`, "content-type": "application/json" },
    });
    req.on("error", () => {});
    req.end(JSON.stringify(streamBody));
    await waitFor(() => rig.mock.requests.length > 0 && rig.mock.requests.at(-1)?.body.stream === true);
    await sleep(50);
    req.destroy();
    await waitFor(() => errorsOf("client_disconnect") === before + 1);
    rig.mock.scenario.hang = false;
    await stillServes();
  });

  it("answers 502 for an unreachable upstream and keeps serving", async () => {
    // A port that was just free: nothing listens there.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const gw = await startGateway({
      config: configFor(`http://127.0.0.1:${port}/v1`),
      appendable: nullAppendable,
      flushIntervalMs: 0,
    });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await request(`${gw.url}/v1/chat/completions`, { body: streamBody, key: KEY_A });
        assert.equal(r.status, 502);
        assert.equal(JSON.parse(r.body.toString()).error.code, "upstream_unreachable");
      }
      const s = gw.meter.read("proj-a", "small-8b", "on_demand");
      assert.equal(s?.requests, 3);
      assert.equal(s?.errors.upstream_unreachable, 3);
    } finally {
      await gw.close();
    }
  });
});
