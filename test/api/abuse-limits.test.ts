/**
 * Limits a caller cannot get around with more tokens or more guesses: requests per project (not
 * only per token), the number of a project's live tokens and how fast its tokens may mint more,
 * and failed authentications per client address. Every refusal is 429 in Prometheus's error
 * envelope with Retry-After. All in-process (Fastify inject) on a test clock, with bounded loops.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clientAddressKey } from "../../src/auth/rate-limit.js";
import { type Answer, INJECT_ADMIN_KEY, type InjectService, startInjectService } from "./inject-harness.js";

/** Unlimited except what a test turns on. */
const OFF = {
  rateLimitPerSecond: 0,
  projectRateLimitPerSecond: 0,
  authFailuresPerMinute: 0,
  tokenCreatesPerMinute: 0,
  maxTokensPerProject: 0,
};

function assertTooMany(a: Answer, pattern: RegExp): number {
  assert.equal(a.status, 429, a.text);
  assert.equal(a.json.status, "error");
  assert.equal(a.json.errorType, "too_many_requests");
  assert.match(String(a.json.error), pattern);
  assert.equal(a.headers["content-type"], "application/json; charset=utf-8");
  const retryAfter = Number(a.headers["retry-after"]);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${a.headers["retry-after"]}`);
  return retryAfter;
}

async function withService(
  limits: Record<string, number>,
  fn: (s: InjectService) => Promise<void>,
): Promise<void> {
  const s = await startInjectService({ limits: { ...OFF, ...limits } });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

const buildinfo = (s: InjectService, project: string, token: string, from?: string) =>
  s.request({ url: `${s.base(project)}/api/v1/status/buildinfo`, token, from });

describe("request rate per project", () => {
  it("holds across many tokens of one project; another project is unaffected", () =>
    withService(
      {
        rateLimitPerSecond: 1_000,
        rateLimitBurst: 1_000,
        projectRateLimitPerSecond: 2,
        projectRateLimitBurst: 5,
      },
      async (s) => {
        const tokens = Array.from({ length: 20 }, () => s.token("alpha"));
        const codes: number[] = [];
        let limited: Answer | undefined;
        for (const t of tokens) {
          const a = await buildinfo(s, "alpha", t);
          codes.push(a.status);
          if (a.status === 429) limited ??= a;
        }
        // 20 tokens, one request each: the project's burst of 5, then nothing until it refills.
        assert.deepEqual(codes, [...Array(5).fill(200), ...Array(15).fill(429)]);
        assert.ok(limited);
        assert.equal(assertTooMany(limited, /requests\/s for project alpha/), 1);
        assert.equal((await buildinfo(s, "beta", s.token("beta"))).status, 200);
        s.tick(1_000);
        // 2/s refilled: two more of alpha's requests pass, the third does not.
        assert.equal((await buildinfo(s, "alpha", tokens[7])).status, 200);
        assert.equal((await buildinfo(s, "alpha", tokens[8])).status, 200);
        assert.equal((await buildinfo(s, "alpha", tokens[9])).status, 429);
      },
    ));

  it("a request refused for the project does not use up its token's own allowance", () =>
    withService(
      { rateLimitPerSecond: 1, rateLimitBurst: 2, projectRateLimitPerSecond: 1, projectRateLimitBurst: 1 },
      async (s) => {
        const a = s.token("alpha");
        const b = s.token("alpha");
        assert.equal((await buildinfo(s, "alpha", a)).status, 200);
        assertTooMany(await buildinfo(s, "alpha", b), /for project alpha/);
        s.tick(1_000);
        // b's own bucket is still full (2), so only the project's limit applies.
        assert.equal((await buildinfo(s, "alpha", b)).status, 200);
      },
    ));

  it("the per-token limit still applies, with the same envelope", () =>
    withService({ rateLimitPerSecond: 1, rateLimitBurst: 2 }, async (s) => {
      const t = s.token("alpha");
      assert.equal((await buildinfo(s, "alpha", t)).status, 200);
      assert.equal((await buildinfo(s, "alpha", t)).status, 200);
      assertTooMany(await buildinfo(s, "alpha", t), /per token/);
      assert.equal((await buildinfo(s, "alpha", s.token("alpha"))).status, 200);
    }));
});

describe("token minting", () => {
  const create = (s: InjectService, project: string, auth: string, body: unknown = { name: "t" }) =>
    s.request({ method: "POST", url: s.tokensPath(project), token: auth, body });

  it("caps a project's live tokens, the admin key's included; revoked and expired ones free places", () =>
    withService({ maxTokensPerProject: 3 }, async (s) => {
      const first = await create(s, "alpha", INJECT_ADMIN_KEY, { name: "short", expires_in: "10m" });
      assert.equal(first.status, 201, first.text);
      const monitoring = String(first.json.token);
      assert.equal((await create(s, "alpha", INJECT_ADMIN_KEY)).status, 201);
      assert.equal((await create(s, "alpha", monitoring, { name: "m", expires_in: "5m" })).status, 201);
      // Full: by the admin key and by the project's own token alike.
      const full = await create(s, "alpha", INJECT_ADMIN_KEY);
      // The first live token to expire does so in 5 minutes.
      assert.equal(assertTooMany(full, /already has 3 live monitoring tokens/), 300);
      assertTooMany(await create(s, "alpha", monitoring, { name: "m", expires_in: "5m" }), /already has 3/);
      // Another project has its own cap.
      assert.equal((await create(s, "beta", INJECT_ADMIN_KEY)).status, 201);
      // A revoked token frees a place.
      const listed = await s.request({ url: s.tokensPath("alpha"), token: INJECT_ADMIN_KEY });
      const ids = (listed.json.tokens as Array<{ id: string; name: string }>).filter((t) => t.name === "t");
      assert.equal(ids.length, 1);
      const revoked = await s.request({
        method: "DELETE",
        url: `${s.tokensPath("alpha")}/${ids[0].id}`,
        token: INJECT_ADMIN_KEY,
      });
      assert.equal(revoked.status, 204);
      assert.equal((await create(s, "alpha", INJECT_ADMIN_KEY)).status, 201);
      assert.equal((await create(s, "alpha", INJECT_ADMIN_KEY)).status, 429);
      // So does an expired one (the 5-minute token).
      s.tick(6 * 60_000);
      assert.equal((await create(s, "alpha", INJECT_ADMIN_KEY)).status, 201);
      assert.equal((await create(s, "alpha", INJECT_ADMIN_KEY)).status, 429);
    }));

  it("caps ingest tokens of a named project, not all-projects ones", () =>
    withService({ maxTokensPerProject: 2 }, async (s) => {
      const ingest = (body: unknown) =>
        s.request({ method: "POST", url: "/v1alpha5/ingest-tokens", token: INJECT_ADMIN_KEY, body });
      for (let i = 0; i < 2; i++)
        assert.equal((await ingest({ name: "i", project_id: "alpha" })).status, 201);
      assertTooMany(await ingest({ name: "i", project_id: "alpha" }), /already has 2 live ingest tokens/);
      for (let i = 0; i < 3; i++) assert.equal((await ingest({ name: "all" })).status, 201);
    }));

  it("limits how fast a project's tokens mint more; the admin key is exempt", () =>
    withService({ tokenCreatesPerMinute: 2, tokenCreateBurst: 2, maxTokensPerProject: 100 }, async (s) => {
      const alpha = s.token("alpha");
      const beta = s.token("beta");
      const codes: number[] = [];
      let limited: Answer | undefined;
      for (let i = 0; i < 10; i++) {
        const a = await create(s, "alpha", alpha);
        codes.push(a.status);
        if (a.status === 429) limited ??= a;
      }
      assert.deepEqual(codes, [201, 201, ...Array(8).fill(429)]);
      assert.ok(limited);
      // 2 per minute: the next one in 30 s.
      assert.equal(assertTooMany(limited, /at most 2 monitoring tokens per minute .* project alpha/), 30);
      // A token minted by the limited project cannot mint around the limit either.
      const minted = await create(s, "alpha", INJECT_ADMIN_KEY);
      assert.equal(minted.status, 201);
      assert.equal((await create(s, "alpha", String(minted.json.token))).status, 429);
      assert.equal((await create(s, "beta", beta)).status, 201);
      s.tick(30_000);
      assert.equal((await create(s, "alpha", alpha)).status, 201);
      assert.equal((await create(s, "alpha", alpha)).status, 429);
    }));

  it("the 60-tokens-in-a-burst attack from one token stops at the minting limit (defaults)", async () => {
    const s = await startInjectService();
    try {
      const t = s.token("alpha");
      let created = 0;
      for (let i = 0; i < 60; i++) {
        const a = await create(s, "alpha", t);
        if (a.status === 201) created++;
        else assertTooMany(a, /per minute/);
      }
      assert.equal(created, 10);
    } finally {
      await s.close();
    }
  });
});

describe("failed authentication per client address", () => {
  const ATTACKER = "203.0.113.7";
  const NEIGHBOUR = "198.51.100.9";

  it("429s an address after its failures, correct tokens too, while other addresses are unaffected", () =>
    withService({ authFailuresPerMinute: 10, authFailureBurst: 5 }, async (s) => {
      const good = s.token("alpha");
      const codes: number[] = [];
      for (let i = 0; i < 8; i++) {
        codes.push((await buildinfo(s, "alpha", `mim_mon_guess${i}`, ATTACKER)).status);
      }
      assert.deepEqual(codes, [401, 401, 401, 401, 401, 429, 429, 429]);
      // The right token from the same address is refused as well: no hit can be told apart.
      const blocked = await buildinfo(s, "alpha", good, ATTACKER);
      // 10 per minute: one more attempt every 6 s.
      assert.equal(assertTooMany(blocked, /failed authentication attempts from this address/), 6);
      // So are the admin routes.
      assertTooMany(
        await s.request({ url: s.tokensPath("alpha"), token: INJECT_ADMIN_KEY, from: ATTACKER }),
        /failed authentication/,
      );
      // A client at another address is not affected.
      assert.equal((await buildinfo(s, "alpha", good, NEIGHBOUR)).status, 200);
      assert.equal(
        (await s.request({ url: s.tokensPath("alpha"), token: INJECT_ADMIN_KEY, from: NEIGHBOUR })).status,
        200,
      );
      // Refusals do not extend the wait: after 6 s one attempt passes again.
      s.tick(6_000);
      assert.equal((await buildinfo(s, "alpha", good, ATTACKER)).status, 200);
      assert.equal((await buildinfo(s, "alpha", "mim_mon_guess", ATTACKER)).status, 401);
      assert.equal((await buildinfo(s, "alpha", good, ATTACKER)).status, 429);
    }));

  it("counts wrong admin keys and malformed headers, not missing credentials or expired tokens", () =>
    withService({ authFailuresPerMinute: 10, authFailureBurst: 3 }, async (s) => {
      const good = s.token("alpha");
      const expired = s.token("alpha", new Date(s.clock.t + 1_000));
      s.tick(2_000);
      for (let i = 0; i < 5; i++) {
        assert.equal(
          (await s.request({ url: `${s.base("alpha")}/api/v1/labels`, from: ATTACKER })).status,
          401,
        );
        assert.equal((await buildinfo(s, "alpha", expired, ATTACKER)).status, 401);
      }
      assert.equal((await buildinfo(s, "alpha", good, ATTACKER)).status, 200);
      assert.equal(
        (await s.request({ url: s.tokensPath("alpha"), token: "mim_adm_wrong-key-000000", from: ATTACKER }))
          .status,
        401,
      );
      assert.equal(
        (await s.request({ url: s.tokensPath("alpha"), authorization: "Basic abc", from: ATTACKER })).status,
        401,
      );
      assert.equal(
        (await s.request({ url: "/v1alpha5/ingest-tokens", token: "nope", from: ATTACKER })).status,
        401,
      );
      assertTooMany(await buildinfo(s, "alpha", good, ATTACKER), /failed authentication/);
    }));

  it("counts an IPv6 client by its /64 and an IPv4-mapped address as IPv4", async () => {
    assert.equal(clientAddressKey("::ffff:192.0.2.1"), "192.0.2.1");
    assert.equal(clientAddressKey("192.0.2.1"), "192.0.2.1");
    assert.equal(clientAddressKey("2001:db8::1"), "2001:db8:0:0::/64");
    assert.equal(clientAddressKey("2001:0db8:0000:0000:ffff::2"), "2001:db8:0:0::/64");
    assert.equal(clientAddressKey("2001:db8:0:1::1"), "2001:db8:0:1::/64");
    assert.equal(clientAddressKey("::1"), "0:0:0:0::/64");
    assert.equal(clientAddressKey("fe80::1%eth0"), "fe80:0:0:0::/64");
    await withService({ authFailuresPerMinute: 10, authFailureBurst: 2 }, async (s) => {
      const good = s.token("alpha");
      assert.equal((await buildinfo(s, "alpha", "mim_mon_x", "2001:db8::1")).status, 401);
      assert.equal((await buildinfo(s, "alpha", "mim_mon_y", "2001:db8::2")).status, 401);
      assert.equal((await buildinfo(s, "alpha", good, "2001:db8::3")).status, 429);
      assert.equal((await buildinfo(s, "alpha", good, "2001:db8:0:1::3")).status, 200);
    });
  });
});
