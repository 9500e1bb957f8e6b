import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import {
  DEMO_MODELS,
  DEMO_PROJECTS,
  FAST_8B,
  type FleetGatewayConfig,
  SLOW_70B,
  startSimFleet,
} from "../../src/sim/fleet.js";

/**
 * A stand-in for the gateway, only as much as routing needs: reads `model` from the body and pipes
 * the request to that model's upstream from the fleet's gateway config; rejects unknown API keys.
 */
async function startRouter(config: FleetGatewayConfig) {
  const keys = new Set(config.api_keys.map((k) => k.key));
  const seenKeys: string[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const key = (req.headers.authorization ?? "").replace(/^Bearer /, "");
    if (!keys.has(key)) {
      res.writeHead(401).end();
      return;
    }
    seenKeys.push(key);
    const model = (JSON.parse(body.toString()) as { model: string }).model;
    const up = config.models[model];
    const upstream = http.request(`${up.upstream}${req.url!.replace(/^\/v1/, "")}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    upstream.on("response", (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    upstream.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seenKeys,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test("the demo fleet: two models with different profiles and tiers, three projects", () => {
  assert.deepEqual(
    DEMO_MODELS.map((m) => [m.name, m.serviceTier]),
    [
      [FAST_8B, "on_demand"],
      [SLOW_70B, "pt"],
    ],
  );
  const [fast, slow] = DEMO_MODELS;
  assert.ok(fast.profile.ttft.median < slow.profile.ttft.median);
  assert.ok(fast.profile.tpot.median < slow.profile.tpot.median);
  assert.ok(DEMO_PROJECTS.some((p) => p.projectId === "demo"));
  assert.ok(DEMO_PROJECTS.length >= 3);
  const total = DEMO_PROJECTS.flatMap((p) => Object.values(p.rates)).reduce((a, b) => a + b, 0);
  assert.ok(total >= 1 && total <= 5, `a few requests/s in total, got ${total}`);
});

test("startSimFleet: one server per model, the gateway's config, load through a router", async () => {
  const fleet = await startSimFleet({ seed: 9, rateScale: 2 });
  const router = await startRouter(fleet.gatewayConfig);
  try {
    assert.deepEqual(Object.keys(fleet.servers), [FAST_8B, SLOW_70B]);
    for (const m of fleet.models) {
      assert.equal(m.upstream, `${fleet.servers[m.name].url}/v1`);
      const list = (await (await fetch(`${m.upstream}/models`)).json()) as { data: Array<{ id: string }> };
      assert.deepEqual(
        list.data.map((d) => d.id),
        [m.name],
      );
      assert.deepEqual(fleet.gatewayConfig.models[m.name], {
        upstream: m.upstream,
        service_tier: m.serviceTier,
      });
    }
    assert.deepEqual(
      fleet.gatewayConfig.api_keys,
      DEMO_PROJECTS.map((p) => ({ key: p.apiKey, project_id: p.projectId })),
    );
    assert.equal(fleet.loadStreams.length, 6);
    assert.equal(fleet.loadStreams[0].rate, DEMO_PROJECTS[0].rates[FAST_8B] * 2);

    // The fleet's streams, each with a count, short outputs so the 70B's 45 ms TPOT stays quick.
    const load = fleet.startLoad(router.url, {
      streams: fleet.loadStreams.map((s) => ({ ...s, rate: 50, count: 4 })),
      maxTokens: { kind: "constant", value: 3 },
      maxTokensFraction: 1,
    });
    await load.done;
    const stats = load.stats();
    assert.equal(stats.total.sent, 24);
    assert.equal(stats.total.ok, 24);
    for (const name of [FAST_8B, SLOW_70B]) {
      const served = fleet.servers[name].stats().byModel[name];
      assert.equal(served.ok, 12);
      const mine = stats.entries.filter((e) => e.model === name);
      assert.equal(
        mine.reduce((a, e) => a + e.outputTokens, 0),
        served.completionTokens,
      );
    }
    assert.deepEqual(new Set(router.seenKeys), new Set(DEMO_PROJECTS.map((p) => p.apiKey)));
  } finally {
    await fleet.close();
    await router.close();
  }
});

test("startSimFleet refuses a project that calls a model the fleet does not serve", async () => {
  await assert.rejects(
    startSimFleet({ projects: [{ projectId: "p", apiKey: "k", rates: { nope: 1 } }] }),
    /unknown model nope/,
  );
});

test("fleet.close() drains the loads it started", async () => {
  const fleet = await startSimFleet({ rateScale: 20 });
  const router = await startRouter(fleet.gatewayConfig);
  try {
    const load = fleet.startLoad(router.url, {
      maxTokens: { kind: "constant", value: 2 },
      maxTokensFraction: 1,
    });
    await new Promise((r) => setTimeout(r, 300));
    await fleet.close();
    const s = load.stats();
    assert.equal(s.inFlight, 0);
    assert.ok(s.total.sent > 0);
    assert.equal(s.total.ok, s.total.sent);
  } finally {
    await fleet.close();
    await router.close();
  }
});
