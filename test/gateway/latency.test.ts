/**
 * TTFT and TPOT as the gateway measures them, against a mock upstream that sleeps known amounts:
 * TTFT = arrival → first content token forwarded; TPOT = (last − first) / (tokens − 1).
 * Tolerances are generous (timers and CI machines jitter), but tight enough to catch a formula
 * that is off by a token or measures from the wrong moment.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { KEY_A, type Rig, startRig } from "./harness.js";
import { request } from "./mock-upstream.js";

describe("gateway latency measurements", () => {
  let rig: Rig;
  before(async () => {
    rig = await startRig({ tokens: 6, ttftMs: 200, tpotMs: 40 });
  });
  after(() => rig.close());

  it("measures TTFT from arrival to the first content token, TPOT over the tokens after it", async () => {
    const N = 4;
    await Promise.all(
      Array.from({ length: N }, () =>
        request(`${rig.v1}/chat/completions`, {
          body: { model: "small-8b", messages: [], stream: true },
          key: KEY_A,
        }),
      ),
    );
    const s = rig.gw.meter.read("proj-a", "small-8b", "on_demand");
    assert.ok(s);
    assert.equal(s.ttft.count, N);
    assert.equal(s.tpot.count, N);
    const ttft = s.ttft.sum / N;
    const tpot = s.tpot.sum / N;
    // The role chunk the mock sends first carries no content and must not count as the first token.
    assert.ok(ttft >= 0.195 && ttft < 0.3, `mean TTFT ${ttft}`);
    assert.ok(tpot >= 0.036 && tpot < 0.06, `mean TPOT ${tpot}`);
    // Buckets are cumulative and agree with count.
    const le = (b: number) => s.ttft.cumulative[s.ttft.bounds.indexOf(b)];
    assert.equal(le(0.15), 0);
    assert.equal(le(0.4), N);
    assert.equal(s.ttft.cumulative.at(-1), N);
  });

  it("observes TTFT but not TPOT for a single-token stream", async () => {
    rig.mock.scenario.tokens = 1;
    try {
      await request(`${rig.v1}/completions`, {
        body: { model: "big-70b", prompt: "x", stream: true },
        key: KEY_A,
      });
    } finally {
      rig.mock.scenario.tokens = 6;
    }
    const s = rig.gw.meter.read("proj-a", "big-70b", "pt");
    assert.equal(s?.ttft.count, 1);
    assert.equal(s?.tpot.count, 0);
    assert.equal(s?.outputTokens, 1);
  });
});
