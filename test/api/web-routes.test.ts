import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startRouteService } from "./harness.js";

describe("serving the metrics page", () => {
  it("answers the page's routes with index.html and assets with long caching", async () => {
    const root = mkdtempSync(join(tmpdir(), "mim-web-"));
    mkdirSync(join(root, "assets"));
    writeFileSync(join(root, "index.html"), "<!doctype html><title>page</title>");
    writeFileSync(join(root, "assets", "app-abc123.js"), "console.log(1)");
    const s = await startRouteService({ webRoot: root });
    try {
      for (const path of ["/", "/projects/demo", "/projects/demo/metrics", "/projects/demo/tokens"]) {
        const r = await s.fetch(s.url + path);
        assert.equal(r.status, 200, path);
        assert.equal(await r.text(), "<!doctype html><title>page</title>");
        assert.equal(r.headers.get("cache-control"), "no-cache");
      }
      const js = await s.fetch(`${s.url}/assets/app-abc123.js`);
      assert.equal(js.status, 200);
      assert.match(js.headers.get("content-type") ?? "", /javascript/);
      assert.match(js.headers.get("cache-control") ?? "", /immutable/);
      assert.equal((await s.fetch(`${s.url}/assets/../index.html`)).status, 404);
      const missing = await s.fetch(`${s.url}/assets/nope.js`);
      assert.equal(missing.status, 404);
    } finally {
      await s.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("says how to build the page when it is not built", async () => {
    const s = await startRouteService({ webRoot: join(tmpdir(), "mim-web-missing-dir") });
    try {
      const r = await s.fetch(`${s.url}/projects/demo/metrics`);
      assert.equal(r.status, 503);
      assert.match(await r.text(), /npm run build:web/);
    } finally {
      await s.close();
    }
  });
});
