/** The scrape config file: defaults, and errors that name the file and the field. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { loadScrapeConfig, parseScrapeConfig, ScrapeConfigError } from "../../src/ingest/scrape/config.js";
import { tempDir } from "../tsdb/helpers.js";

const target = { url: "http://10.0.0.5:8000/metrics", project_id: "acme", service_tier: "on_demand" };
const parse = (doc: unknown) => parseScrapeConfig(JSON.stringify(doc), "scrape.json");

function rejects(doc: unknown, pattern: RegExp) {
  assert.throws(
    () => (typeof doc === "string" ? parseScrapeConfig(doc, "scrape.json") : parse(doc)),
    (e: unknown) => {
      assert.ok(e instanceof ScrapeConfigError, String(e));
      assert.match(e.message, /^scrape\.json: /);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe("scrape config", () => {
  it("fills in defaults", () => {
    const c = parse({ targets: [target] });
    const t = c.targets[0];
    assert.equal(t.name, target.url);
    assert.equal(t.url.href, target.url);
    assert.equal(t.intervalMs, 15_000);
    assert.equal(t.timeoutMs, 10_000);
    assert.equal(t.model_name, undefined);
    assert.deepEqual(t.headers, {});
    assert.equal(t.maxBodyBytes, 16 * 1024 * 1024);
  });

  it("reads every field, with file-wide interval and timeout defaults", () => {
    const c = parse({
      interval: "5s",
      targets: [
        target,
        {
          name: "llama-70b",
          url: "https://vllm.internal/metrics",
          project_id: "acme.prod",
          service_tier: "pt",
          model_name: "llama-3.1-70b",
          interval: "1m30s",
          timeout: "500ms",
          bearer_token: "s3cret",
          headers: { "X-Scope": "metrics" },
          max_body_bytes: 1000,
        },
      ],
    });
    assert.equal(c.targets[0].intervalMs, 5_000);
    assert.equal(c.targets[0].timeoutMs, 5_000, "the default timeout is capped at the interval");
    const t = c.targets[1];
    assert.equal(t.name, "llama-70b");
    assert.equal(t.service_tier, "pt");
    assert.equal(t.model_name, "llama-3.1-70b");
    assert.equal(t.intervalMs, 90_000);
    assert.equal(t.timeoutMs, 500);
    assert.equal(t.bearerToken, "s3cret");
    assert.deepEqual(t.headers, { "X-Scope": "metrics" });
    assert.equal(t.maxBodyBytes, 1000);
  });

  it("names the field that is wrong", () => {
    rejects("{ targets: [] }", /not valid JSON/);
    rejects({}, /targets: /);
    rejects(
      { targets: [{ ...target, service_tier: "gold" }] },
      /targets\[0\]\.service_tier: must be one of pt, on_demand/,
    );
    rejects(
      { targets: [target, { ...target, url: "ftp://x/metrics" }] },
      /targets\[1\]\.url: must be an http/,
    );
    rejects(
      { targets: [{ ...target, url: "http://u:p@x/metrics" }] },
      /targets\[0\]\.url: .*without user:password/,
    );
    rejects({ targets: [{ ...target, project_id: "" }] }, /targets\[0\]\.project_id: must be 1-128/);
    rejects({ targets: [{ ...target, project_id: "a b" }] }, /targets\[0\]\.project_id/);
    rejects({ targets: [{ url: target.url, service_tier: "pt" }] }, /targets\[0\]\.project_id/);
    rejects({ targets: [{ ...target, interval: "15" }] }, /targets\[0\]\.interval: not a valid duration/);
    rejects({ targets: [{ ...target, interval: "0s" }] }, /targets\[0\]\.interval: must be more than 0s/);
    rejects(
      { targets: [{ ...target, interval: "5s", timeout: "10s" }] },
      /targets\[0\]\.timeout: .*longer than the interval/,
    );
    rejects(
      { targets: [{ ...target, scrape_interval: "5s" }] },
      /targets\[0\]: Unrecognized key: "scrape_interval"/,
    );
    rejects({ targets: [{ ...target, headers: { "Bad Header": "x" } }] }, /targets\[0\]\.headers/);
    rejects(
      { targets: [{ ...target, headers: { "X-A": "a\nb" } }] },
      /targets\[0\]\.headers\.X-A: header values/,
    );
    rejects(
      { targets: [{ ...target, bearer_token: "a", headers: { authorization: "Bearer b" } }] },
      /targets\[0\]: use only one of bearer_token/,
    );
    rejects({ targets: [target, { ...target }] }, /targets\[1\]: same url and project_id as targets\[0\]/);
  });

  it("loads a file and names it in errors", () => {
    const { dir, cleanup } = tempDir("mim-scrape-config-");
    try {
      const path = `${dir}/scrape.json`;
      writeFileSync(path, JSON.stringify({ targets: [target] }));
      assert.equal(loadScrapeConfig(path).targets.length, 1);
      writeFileSync(path, JSON.stringify({ targets: [{ ...target, service_tier: "x" }] }));
      assert.throws(
        () => loadScrapeConfig(path),
        new RegExp(`^ScrapeConfigError: ${path}: targets\\[0\\]\\.service_tier`),
      );
      assert.throws(() => loadScrapeConfig(`${dir}/missing.json`), /missing\.json: ENOENT/);
    } finally {
      cleanup();
    }
  });
});
