/**
 * The metrics page in a real browser (Debian's chromium through playwright-core) against the real
 * service with the demo fleet, started in-process: sign-in both ways, five charts with data,
 * tooltip, range and filters (checked on the requests the page sends), copying a query, the
 * tokens page (create, revoke, the revoked token refused) and an expired token's error state.
 * Screenshots go to test-artifacts/ (git-ignored) for a human to look at. Prints the gzipped JS
 * size (asserted against the 150 KB budget) and the time to the first chart with data (printed
 * only: timings on a shared CI machine are not a pass/fail signal).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
  type Request,
} from "playwright-core";
import { DEFAULT_LIMITS } from "../../src/api/context.js";
import { type RunningService, startService } from "../../src/cli/service.js";
import { FAST_8B, SLOW_70B } from "../../src/sim/fleet.js";

const CHROMIUM = "/usr/bin/chromium";
const ROOT = new URL("../../", import.meta.url).pathname;
const ARTIFACTS = join(ROOT, "test-artifacts");
const BUDGET_GZIP_BYTES = 150 * 1024;
const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === "true";

if (!haveChromium && !inCi)
  console.log(`# skipping the browser tests: no ${CHROMIUM} (apt-get install chromium)`);

const text = async (l: Locator) => (await l.textContent()) ?? "";
/**
 * Evaluates a JavaScript expression in the page (awaiting a promise). A string, not a function:
 * the root tsconfig has no DOM library, and tsx would wrap named functions in a helper the page lacks.
 */
const inPage = <T = unknown>(page: Page, expression: string) => page.evaluate(expression) as Promise<T>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Builds web/dist from the sources, so the test never sees a stale page; returns the gzipped JS size. */
function buildPage(): number {
  const vite = join(ROOT, "node_modules/vite/bin/vite.js");
  const r = spawnSync(
    process.execPath,
    [vite, "build", "--config", "web/vite.config.ts", "--logLevel", "warn"],
    {
      cwd: ROOT,
      encoding: "utf8",
    },
  );
  assert.equal(r.status, 0, `vite build failed:\n${r.stdout}\n${r.stderr}`);
  const assets = join(ROOT, "web/dist/assets");
  return readdirSync(assets)
    .filter((f) => f.endsWith(".js"))
    .reduce((n, f) => n + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0);
}

describe("the metrics page in a browser", { skip: !haveChromium && !inCi }, () => {
  let service: RunningService;
  let browser: Browser;
  let dataDir: string;
  let demoToken: string;
  let acmeToken: string;
  let expiredToken: string;
  const contexts: BrowserContext[] = [];

  const admin = async (project: string, body: object) => {
    const r = await fetch(`${service.url}/v1alpha5/projects/${project}/monitoring/tokens`, {
      method: "POST",
      headers: { Authorization: `Bearer ${service.adminKey.value}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 201, await r.clone().text());
    return ((await r.json()) as { token: string }).token;
  };

  /** A range query over the last minute with at least one finite value. */
  const hasData = async (query: string) => {
    const now = Math.floor(Date.now() / 1000);
    const u = new URL(`${service.url}/v1alpha5/projects/demo/metrics/timeseries/api/v1/query_range`);
    u.search = new URLSearchParams({
      query,
      start: String(now - 60),
      end: String(now),
      step: "1",
    }).toString();
    const r = await fetch(u, { headers: { Authorization: `Bearer ${demoToken}` } });
    const body = (await r.json()) as { data?: { result: Array<{ values: Array<[number, string]> }> } };
    return (body.data?.result ?? []).some((s) => s.values.some(([, v]) => Number.isFinite(Number(v))));
  };

  async function newPage(opts: { dark?: boolean; width?: number } = {}): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: opts.width ?? 1440, height: 1000 },
      colorScheme: opts.dark ? "dark" : "light",
    });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: service.url });
    contexts.push(context);
    const page = await context.newPage();
    // The token goes nowhere but this origin's API.
    page.on("request", (req) => assert.equal(new URL(req.url()).origin, service.url, req.url()));
    page.on("pageerror", (err) => console.log(`# page error: ${err.message}`));
    return page;
  }

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  /**
   * Waits until every panel shows a chart with data. With the test's short gateway flush, irate()
   * sees two seconds of traffic, so a quantile can be NaN at every step of a young range (no
   * request finished then): press Refresh, as a user would, until each panel has data.
   */
  async function waitForCharts(page: Page) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const state = {
        canvases: await page.locator(".panel[data-panel] .chart-host canvas").count(),
        kinds: await inPage<string[]>(
          page,
          `[...document.querySelectorAll(".panel[data-panel] .overlay")].map((o) => o.hidden ? "none" : o.dataset.kind)`,
        ),
      };
      if (state.canvases === 5 && state.kinds.every((k) => k === "none")) return;
      assert.ok(Date.now() < deadline, `charts without data: ${JSON.stringify(state)}`);
      assert.ok(!state.kinds.includes("error"), `a panel failed: ${JSON.stringify(state)}`);
      if (!state.kinds.includes("loading")) await page.getByRole("button", { name: "Refresh" }).click();
      await sleep(750);
    }
  }

  before(async () => {
    assert.ok(haveChromium, `${CHROMIUM} is missing: .ci/run installs it with apt-get`);
    mkdirSync(ARTIFACTS, { recursive: true });
    const t0 = Date.now();
    const gz = buildPage();
    console.log(`# page JS gzipped: ${(gz / 1024).toFixed(1)} KB (budget ${BUDGET_GZIP_BYTES / 1024} KB)`);
    console.log(`# page build: ${Date.now() - t0} ms`);
    assert.ok(gz <= BUDGET_GZIP_BYTES, `page JS is ${gz} bytes gzipped, over the budget`);

    dataDir = mkdtempSync(join(tmpdir(), "mim-web-data-"));
    service = await startService({
      dataDir,
      listen: "127.0.0.1:0",
      gatewayListen: "127.0.0.1:0",
      simFleet: true,
      builtinRules: true,
      ruleIntervalMs: 2_000,
      // 2 s, not the production 15 s: data within seconds, and irate() (which sees one flush of
      // traffic) is not NaN too often at ~0.85 requests/s.
      gatewayFlushMs: 2_000,
      retentionMs: 86_400_000,
      sync: "normal",
      maxDiskBytes: 1 << 30,
      lookbackDeltaMs: 300_000,
      limits: DEFAULT_LIMITS,
      logLevel: "silent",
    });
    demoToken = await admin("demo", { name: "browser-test" });
    acmeToken = await admin("acme", { name: "browser-test" });
    expiredToken = await admin("demo", { name: "short-lived", expires_in: "2s" });
    // The fleet needs a few gateway flushes before rate() and the quantiles have two samples.
    const deadline = Date.now() + 30_000;
    const rate = 'sum by (model_name) ( rate( crusoe_inference_request_count{project_id="demo"}[300s] ) )';
    const ttft =
      'histogram_quantile( 0.5, sum by (model_name, le) ( irate( crusoe_inference_histogram_first_token_latency_bucket{project_id="demo"}[300s] ) ) )';
    while (!((await hasData(rate)) && (await hasData(ttft)))) {
      assert.ok(Date.now() < deadline, "no data from the simulated fleet within 30 s");
      await sleep(250);
    }
    console.log(`# fleet data after ${Date.now() - t0} ms (including the build)`);
    // launch() runs chromium on a fresh temporary profile (user-data dir) that it deletes on close.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await service?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("signs in with the demo link and draws five charts with both models", async () => {
    const page = await newPage();
    await page.goto(`${service.url}/projects/demo/metrics#token=${demoToken}`);
    await waitForCharts(page);
    // performance marks: navigation start = 0; the page marks when its script starts, when the view
    // is built (queries sent) and when the first chart with data is drawn.
    const marks = await page.evaluate(() =>
      Object.fromEntries(performance.getEntriesByType("mark").map((m) => [m.name, Math.round(m.startTime)])),
    );
    assert.ok(marks["mim:first-chart"] > 0, JSON.stringify(marks));
    console.log(
      `# time to first chart with data: ${marks["mim:first-chart"]} ms from navigation start` +
        ` (script started at ${marks["mim:start"]} ms, queries sent at ${marks["mim:view-built"]} ms)`,
    );
    assert.ok(!page.url().includes("#"), `the token stays in the URL: ${page.url()}`);
    const storage = await inPage(
      page,
      `({ local: localStorage.length, session: sessionStorage.getItem("mim.token.demo") })`,
    );
    assert.deepEqual(storage, { local: 0, session: demoToken });
    for (const id of ["requests", "input", "output", "ttft", "tpot"]) {
      const legend = await text(page.locator(`[data-panel="${id}"] .legend`));
      assert.ok(legend.includes(FAST_8B) && legend.includes(SLOW_70B), `${id} legend: ${legend}`);
    }
    assert.match(await text(page.locator('[data-panel="output"] .total')), /Total over 1h: [\d,]+ tokens/);
    assert.match(await text(page.locator(".updated")), /Updated at .* refreshes every 60 s/);
    // Hover the request-rate chart: the tooltip lists the lines with their values.
    const box = (await page.locator('[data-panel="requests"] .u-over').boundingBox())!;
    // The right edge: the newest point (the fleet started seconds ago, older points are empty).
    await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
    const tooltip = page.locator('[data-panel="requests"] .tooltip');
    await tooltip.waitFor({ state: "visible" });
    const tip = await text(tooltip);
    assert.match(tip, /\d req\/s/, tip);
    assert.ok(tip.includes(FAST_8B), tip);
    await shot(page, "01-metrics-light");
    // Keyboard: the first Tab lands on the skip link, then the page's controls. A click on the
    // page's top corner puts the browser's focus starting point at the top of the document
    // (where it was left otherwise depends on what re-rendered meanwhile, e.g. the legend).
    await page.mouse.click(1, 1);
    await page.keyboard.press("Tab");
    assert.equal(await inPage(page, "document.activeElement?.textContent"), "Skip to content");
    // The Grafana box masks the token until asked.
    const grafana = page.locator("section.grafana");
    assert.ok(!(await text(grafana)).includes(demoToken));
    assert.ok((await text(grafana)).includes(`${service.url}/v1alpha5/projects/demo/metrics/timeseries`));
    await grafana.getByRole("button", { name: "Reveal" }).click();
    assert.ok((await text(grafana)).includes(`Bearer ${demoToken}`));
  });

  it("changes the range and the filters, and copies a query", async () => {
    const page = await newPage();
    const ranges: URLSearchParams[] = [];
    page.on("request", (req: Request) => {
      if (req.url().includes("/api/v1/query_range")) ranges.push(new URL(req.url()).searchParams);
    });
    // A controllable clock (time still flows) so the 60 s auto-refresh can be fast-forwarded.
    await page.clock.install();
    await page.goto(`${service.url}/projects/demo/metrics#token=${demoToken}`);
    await waitForCharts(page);
    const last = () => ranges[ranges.length - 1];
    const reload = async (action: () => Promise<unknown>) => {
      const before = ranges.length;
      await action();
      // load() says "Loading…" at once, "Updated at …" when every panel has answered.
      await page.waitForFunction(`document.querySelector(".updated")?.textContent?.startsWith("Updated")`);
      assert.ok(ranges.length >= before + 9, "every panel's queries are sent again");
      return ranges.slice(before);
    };

    let sent = await reload(() => page.getByRole("button", { name: "6h", exact: true }).click());
    for (const p of sent) {
      const [start, end, step] = ["start", "end", "step"].map((k) => Number(p.get(k)));
      assert.equal(step, 30);
      assert.ok(end - start === 6 * 3600 || end - start === 6 * 3600 + 30, `${start}..${end}`);
      assert.equal(start % step, 0);
      assert.equal(end % step, 0);
      assert.ok(end >= Date.now() / 1000 - 1, "the range ends now, rounded up to the step");
      const points = (end - start) / step + 1;
      assert.ok(points >= 300 && points <= 1001, `${points} points`);
    }
    assert.equal(
      await page.getByRole("button", { name: "6h", exact: true }).getAttribute("aria-pressed"),
      "true",
    );
    assert.match(page.url(), /range=6h/);

    sent = await reload(() => page.getByRole("button", { name: "7d", exact: true }).click());
    assert.equal(last().get("step"), "900");
    // Back to 1h: a 900 s step may have no point yet in the fleet's first seconds.
    sent = await reload(() => page.getByRole("button", { name: "1h", exact: true }).click());

    sent = await reload(() => page.getByLabel("Model").selectOption(FAST_8B));
    for (const p of sent) assert.ok(p.get("query")!.includes(`model_name="${FAST_8B}"`), p.get("query")!);
    await waitForCharts(page);
    assert.ok(!(await text(page.locator('[data-panel="requests"] .legend'))).includes(SLOW_70B));

    // The 8B model is on demand: filtering on provisioned throughput leaves nothing to draw.
    sent = await reload(() => page.getByLabel("Service tier").selectOption("pt"));
    for (const p of sent) assert.ok(p.get("query")!.includes('service_tier="pt"'), p.get("query")!);
    await page.locator('[data-panel="requests"] .overlay', { hasText: "No traffic in this range" }).waitFor();
    await shot(page, "03-metrics-empty");

    await page.getByLabel("Service tier").selectOption("");
    sent = await reload(() => page.getByLabel("Model").selectOption(""));
    sent = await reload(() => page.getByLabel("A line per tier").check());
    for (const p of sent) assert.match(p.get("query")!, /sum by \(model_name, service_tier(, le)?\)/);
    await waitForCharts(page);
    assert.match(await text(page.locator('[data-panel="requests"] .legend')), /on_demand/);
    await shot(page, "03b-metrics-split-by-tier");

    // A custom range: one hour, an hour ago.
    await page.getByRole("button", { name: "Custom" }).click();
    // datetime-local values are local time; the browser runs in this process's time zone.
    const local = (ms: number) =>
      new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await page.getByLabel("From", { exact: true }).fill(local(Date.now() - 2 * 3600_000));
    await page.getByLabel("To", { exact: true }).fill(local(Date.now() - 3600_000));
    sent = await reload(() => page.getByRole("button", { name: "Apply" }).click());
    const p = last();
    assert.equal(p.get("step"), "15");
    assert.ok(Math.abs(Number(p.get("end")) - Number(p.get("start")) - 3600) <= 60);
    await shot(page, "04-metrics-custom-range");

    // Copy the request-rate query.
    await page.getByRole("button", { name: "1h", exact: true }).click();
    const code = page.locator('[data-panel="requests"] .query code').first();
    const query = await text(code);
    await page
      .locator('[data-panel="requests"] .query')
      .first()
      .getByRole("button", { name: "Copy" })
      .click();
    await page.locator('[data-panel="requests"] .query button[data-state="ok"]').waitFor();
    assert.equal(await inPage(page, "navigator.clipboard.readText()"), query);
    assert.match(
      query,
      /^sum by \(model_name, service_tier\) \( rate\( crusoe_inference_request_count\{project_id="demo"\}\[300s\] \) \)$/,
    );

    // Auto-refresh: a minute later every panel is queried again and "Updated at" moves on.
    const updatedBefore = await text(page.locator(".updated"));
    const sent60 = await reload(() => page.clock.fastForward("01:01"));
    assert.ok(sent60.length >= 9);
    assert.notEqual(await text(page.locator(".updated")), updatedBefore);
  });

  it("signs in through the form and remembers the project for the session", async () => {
    const page = await newPage({ width: 900 });
    await page.goto(`${service.url}/`);
    await page.getByLabel("Project ID").fill("acme");
    await page.getByLabel("Monitoring token").fill("mim_mon_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText(/Sign-in failed: invalid monitoring token/).waitFor();
    await shot(page, "05-signin-error");
    await page.getByLabel("Monitoring token").fill(acmeToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/projects\/acme\/metrics/);
    await waitForCharts(page);
    await shot(page, "06-metrics-900px");
    await page.goto(`${service.url}/`);
    await page.waitForURL(/\/projects\/acme\/metrics/);
    await waitForCharts(page);
  });

  it("creates and revokes a token on the tokens page; the revoked token is refused", async () => {
    const page = await newPage();
    await page.goto(`${service.url}/projects/demo/metrics#token=${demoToken}`);
    await page.getByRole("link", { name: "Tokens" }).click();
    await page.waitForURL(/\/projects\/demo\/tokens$/);
    await page.getByLabel("Name").fill("ci-created");
    await page.getByLabel("Expires after").selectOption("1d");
    await page.getByRole("button", { name: "Create token" }).click();
    const value = await text(page.locator(".token-value"));
    assert.match(value, /^mim_mon_/);
    const row = page.locator("tr", { hasText: "ci-created" });
    await row.waitFor();
    await shot(page, "07-tokens-created");
    const base = `${service.url}/v1alpha5/projects/demo/metrics/timeseries/api/v1/query?query=1`;
    assert.equal((await fetch(base, { headers: { Authorization: `Bearer ${value}` } })).status, 200);

    await row.getByRole("button", { name: /Revoke/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await shot(page, "08-tokens-confirm");
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await row.waitFor({ state: "detached" });
    await page.getByText("Revoked “ci-created”.").waitFor();
    const refused = await fetch(base, { headers: { Authorization: `Bearer ${value}` } });
    assert.equal(refused.status, 401);
    assert.match(await refused.text(), /revoked/);
    await shot(page, "09-tokens-revoked");
  });

  it("shows an expired token's error and a way to sign in again", async () => {
    const page = await newPage({ dark: true });
    await page.goto(`${service.url}/projects/demo/metrics#token=${expiredToken}`);
    const alert = page.locator(".alert.error", { hasText: "no longer accepted" });
    await alert.waitFor();
    assert.match(await text(alert), /monitoring token expired at/);
    await shot(page, "10-expired-dark");
    await alert.getByRole("button", { name: "Sign in again" }).click();
    await page.getByLabel("Monitoring token").waitFor();
    assert.match(await text(page.locator("form")), /refused the token: monitoring token expired/);
    assert.equal(await inPage(page, `sessionStorage.getItem("mim.token.demo")`), null);
    await shot(page, "11-signin-again-dark");
    // The same page in dark mode with data.
    await page.getByLabel("Monitoring token").fill(demoToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await waitForCharts(page);
    await shot(page, "02-metrics-dark");
  });
});
