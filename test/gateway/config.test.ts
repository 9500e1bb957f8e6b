/** The gateway config file: defaults, overrides, and errors that name the file and the field. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  DEFAULT_FLUSH_INTERVAL_MS,
  DEFAULT_TIMEOUTS,
  GatewayConfigError,
  loadGatewayConfig,
  parseGatewayConfig,
} from "../../src/gateway/config.js";

const valid = () => ({
  api_keys: [{ key: "sk-1", project_id: "demo" }],
  models: { m: { upstream: "http://127.0.0.1:9/v1/", service_tier: "on_demand" } },
});

function rejects(doc: unknown, ...patterns: RegExp[]): void {
  assert.throws(
    () => parseGatewayConfig(doc, "/etc/gw.json"),
    (e: Error) => {
      assert.ok(e instanceof GatewayConfigError, String(e));
      assert.match(e.message, /^gateway config \/etc\/gw\.json:/);
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
}

describe("gateway config", () => {
  const dir = mkdtempSync(join(tmpdir(), "mim-gwcfg-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("applies defaults and per-model overrides", () => {
    const c = parseGatewayConfig(
      {
        ...valid(),
        models: {
          m: { upstream: "http://127.0.0.1:9/v1/", service_tier: "on_demand" },
          big: {
            upstream: "https://pt.example/v1",
            service_tier: "pt",
            upstream_api_key: "k",
            timeouts: { idle_ms: 5 },
            stream_usage: false,
          },
        },
        timeouts: { total_ms: 1000 },
      },
      "x",
    );
    assert.equal(c.flushIntervalMs, DEFAULT_FLUSH_INTERVAL_MS);
    assert.equal(c.flushIntervalMs, 15_000);
    const m = c.models.get("m");
    assert.equal(m?.upstream.pathname, "/v1");
    assert.equal(m?.tier, "on_demand");
    assert.equal(m?.streamUsage, true);
    assert.deepEqual(m?.timeouts, { ...DEFAULT_TIMEOUTS, totalMs: 1000 });
    const big = c.models.get("big");
    assert.deepEqual(big?.timeouts, { responseMs: DEFAULT_TIMEOUTS.responseMs, idleMs: 5, totalMs: 1000 });
    assert.equal(big?.upstreamApiKey, "k");
    assert.equal(big?.streamUsage, false);
    assert.equal(c.keyHashes.get(createHash("sha256").update("sk-1").digest("hex")), "demo");
  });

  it("accepts keys given by their SHA-256", () => {
    const hash = createHash("sha256").update("secret").digest("hex");
    const c = parseGatewayConfig({ ...valid(), api_keys: [{ key_sha256: hash, project_id: "p" }] }, "x");
    assert.equal(c.keyHashes.get(hash), "p");
  });

  it("names the field of each mistake", () => {
    rejects({ models: valid().models }, /api_keys/);
    rejects(
      { ...valid(), api_keys: [{ project_id: "p" }] },
      /api_keys\[0\]: give exactly one of "key" and "key_sha256"/,
    );
    rejects(
      { ...valid(), api_keys: [{ key: "a", key_sha256: "0".repeat(64), project_id: "p" }] },
      /api_keys\[0\]: give exactly one/,
    );
    rejects(
      { ...valid(), api_keys: [{ key_sha256: "abc", project_id: "p" }] },
      /api_keys\[0\]\.key_sha256: must be the SHA-256/,
    );
    rejects(
      { ...valid(), api_keys: [{ key: "a", project_id: "bad project!" }] },
      /api_keys\[0\]\.project_id: must be 1-128/,
    );
    rejects(
      {
        ...valid(),
        api_keys: [
          { key: "a", project_id: "p" },
          { key: "a", project_id: "q" },
        ],
      },
      /api_keys\[1\]: the same key is listed twice/,
    );
    rejects(
      { ...valid(), models: { m: { upstream: "ftp://x", service_tier: "pt" } } },
      /models\.m\.upstream: must be an http/,
    );
    rejects(
      { ...valid(), models: { m: { upstream: "not a url", service_tier: "pt" } } },
      /models\.m\.upstream/,
    );
    rejects(
      { ...valid(), models: { m: { upstream: "http://x/v1", service_tier: "gold" } } },
      /models\.m\.service_tier/,
    );
    rejects(
      {
        ...valid(),
        models: { m: { upstream: "http://x/v1", service_tier: "pt", timeouts: { idle_ms: -1 } } },
      },
      /models\.m\.timeouts\.idle_ms/,
    );
    rejects({ ...valid(), models: {} }, /models: configure at least one model/);
    rejects({ ...valid(), flush_interval_ms: "15s" }, /flush_interval_ms/);
    rejects({ ...valid(), flush_intervall_ms: 1000 }, /flush_intervall_ms/);
    rejects([], /\(top level\)/);
  });

  it("reports every problem at once", () => {
    rejects({ api_keys: [], models: {}, flush_interval_ms: 1 }, /api_keys/, /models/, /flush_interval_ms/);
  });

  it("loads a file and names it in errors", () => {
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify(valid()));
    assert.equal(loadGatewayConfig(good).models.size, 1);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ api_keys: ");
    assert.throws(
      () => loadGatewayConfig(bad),
      (e: Error) => e.message.includes(`${bad}: not valid JSON`),
    );
    const wrong = join(dir, "wrong.json");
    writeFileSync(wrong, JSON.stringify({ ...valid(), models: { m: { upstream: "http://x" } } }));
    assert.throws(
      () => loadGatewayConfig(wrong),
      (e: Error) => e.message.includes(wrong) && /models\.m\.service_tier/.test(e.message),
    );
    const missing = join(dir, "missing.json");
    assert.throws(
      () => loadGatewayConfig(missing),
      (e: Error) => e.message.includes(`${missing}: cannot read`),
    );
  });
});
