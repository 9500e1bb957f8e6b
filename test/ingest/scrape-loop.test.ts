/**
 * The scrape loop end to end: a local HTTP server plays a vLLM whose counters grow with every
 * scrape, the scraper writes into a real Tsdb, and PromQL reads it back. Also: a target that is
 * down, one that hangs, one with a broken page, staleness when series vanish or a target fails,
 * and no stale markers on shutdown.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { parseScrapeConfig } from "../../src/ingest/scrape/config.js";
import { type Scraper, startScraper } from "../../src/ingest/scrape/scraper.js";
import type { ScrapeOutcome, TargetStatus } from "../../src/ingest/scrape/target-loop.js";
import { newEngine } from "../../src/promql/engine.js";
import { isStaleNaN, Matcher } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { tempDir } from "../tsdb/helpers.js";

const FIXTURE = readFileSync("test/fixtures/vllm-metrics.txt", "utf8");
const MODEL = "meta-llama/Llama-3.1-8B-Instruct";
const GROWING = [
  "vllm:request_success_total",
  "vllm:prompt_tokens_total",
  "vllm:generation_tokens_total",
  "vllm:time_to_first_token_seconds_",
  "vllm:time_per_output_token_seconds_",
];

/** The page after `n` equal stretches of traffic: the growing families' values times n. */
function page(n: number, withTpot: boolean): string {
  return FIXTURE.split("\n")
    .filter((line) => withTpot || !line.includes("vllm:time_per_output_token_seconds"))
    .map((line) => {
      if (!GROWING.some((g) => line.startsWith(g)) || line.includes("_created")) return line;
      const at = line.lastIndexOf(" ");
      return `${line.slice(0, at)} ${Number(line.slice(at + 1)) * n}`;
    })
    .join("\n");
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const BASE = 1_700_000_040_000;
const STEP = 15_000;

describe("scrape loop", () => {
  const engine = newEngine();
  let db: Tsdb;
  let cleanup: () => void;
  let vllm: Server;
  let hang: Server;
  let vllmUrl: string;
  let hangUrl: string;
  let deadUrl: string;
  /** What the fake vLLM serves: growing pages, pages without TPOT, or 503. */
  let mode: "full" | "no-tpot" | "down" = "full";
  let served = 0;
  let fullPages = 0;
  let noTpotPages = 0;
  // Each served page moves the fake clock on one 15 s scrape interval, so the samples land 15 s
  // apart whatever the real timing (the loop itself runs every 100 ms).
  let clock = BASE;
  const logs: string[] = [];
  const outcomes: ScrapeOutcome[] = [];
  let scraper: Scraper;
  const status = (name: string): TargetStatus => {
    const s = scraper.status().targets.find((t) => t.name === name);
    assert.ok(s, name);
    return s;
  };

  before(async () => {
    const t = tempDir("mim-scrape-");
    cleanup = t.cleanup;
    db = Tsdb.open({ dir: t.dir, maintenanceIntervalMs: 0 });
    vllm = createServer((req, res) => {
      if (req.url === "/broken") {
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4" });
        res.end('ok 1\nvllm:prompt_tokens_total{model_name="m" 5\n');
        return;
      }
      if (mode === "down") {
        res.writeHead(503).end("overloaded");
        return;
      }
      served++;
      if (mode === "full") fullPages++;
      else noTpotPages++;
      const body = page(served, mode === "full");
      clock += STEP;
      res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(body);
    });
    hang = createServer(() => {
      // Never answers: the scrape must time out.
    });
    vllmUrl = await listen(vllm);
    hangUrl = await listen(hang);
    // Node loads its HTTP client on the first fetch (100s of ms); do that before timing anything.
    await (await fetch(`${vllmUrl}/broken`)).text();
    const dead = createServer();
    deadUrl = await listen(dead);
    await new Promise((r) => dead.close(r));
  });

  after(async () => {
    await scraper?.close();
    vllm.closeAllConnections();
    hang.closeAllConnections();
    await new Promise((r) => vllm.close(r));
    await new Promise((r) => hang.close(r));
    db.close();
    cleanup();
  });

  it("scrapes, maps and stores; PromQL sees vLLM's traffic under the product's names", async () => {
    const config = parseScrapeConfig(
      JSON.stringify({
        interval: "100ms",
        targets: [
          // A longer interval (and so timeout) for the target whose every sample is checked, so a
          // slow CI machine cannot turn one scrape into a spurious timeout.
          {
            name: "vllm",
            url: `${vllmUrl}/metrics`,
            project_id: "acme",
            service_tier: "on_demand",
            interval: "250ms",
          },
          { name: "dead", url: `${deadUrl}/metrics`, project_id: "acme", service_tier: "pt" },
          {
            name: "hang",
            url: `${hangUrl}/metrics`,
            project_id: "acme",
            service_tier: "pt",
            timeout: "50ms",
          },
          { name: "broken", url: `${vllmUrl}/broken`, project_id: "acme", service_tier: "pt" },
        ],
      }),
      "test",
    );
    scraper = startScraper({
      config,
      appendable: db,
      // Read at the start of each scrape: the k-th page served is stamped BASE + (k-1)·15 s.
      now: () => clock,
      log: {
        info: (_f, m) => logs.push(`info ${m}`),
        warn: (f, m) => logs.push(`warn ${m} ${JSON.stringify(f)}`),
        error: (f, m) => logs.push(`error ${m} ${JSON.stringify(f)}`),
      },
      onScrape: (o) => outcomes.push(o),
    });
    await until("6 scrapes of the vLLM target", () => status("vllm").scrapes >= 6);
    await until("the hanging target to time out", () => status("hang").failures >= 1, 3000);
    mode = "no-tpot";
    await until("2 scrapes without TPOT", () => noTpotPages >= 2);
    mode = "down";
    const failuresBefore = status("vllm").failures;
    await until("a failed scrape", () => status("vllm").failures > failuresBefore);
    await scraper.close();

    // The vLLM target: up while serving, down after the 503, counted.
    const v = status("vllm");
    assert.equal(v.health, "down");
    assert.match(v.lastError ?? "", /HTTP status 503/);
    assert.ok(v.failures >= 1, "the 503 was counted");
    // The other targets failed every time, without stopping anything.
    const dead = status("dead");
    assert.equal(dead.health, "down");
    assert.ok(dead.failures >= 3 && dead.failures === dead.scrapes, JSON.stringify(dead));
    assert.match(dead.lastError ?? "", /fetch failed: ECONNREFUSED/);
    assert.match(status("hang").lastError ?? "", /timed out after 50 ms/);
    assert.match(
      status("broken").lastError ?? "",
      /^line 2, column \d+: expected , or } after a label value/,
    );
    assert.equal(scraper.status().up, 0);
    assert.equal(scraper.status().down, 4);
    // One warning per outage, not per failed scrape.
    assert.equal(logs.filter((l) => l.includes('"target":"dead"')).length, 1, logs.join("\n"));

    // Each good scrape's bookkeeping: 50 series stored from the page's 346 samples, 294 dropped;
    // without the TPOT histogram, 28 (the first such scrape marks the 22 TPOT series stale); then
    // the failed scrape marks the other 28.
    const full = fullPages;
    assert.ok(full >= 6, `only ${full} full pages`);
    const mine = outcomes
      .filter((o) => o.target === "vllm" && (!o.failed || o.staleMarkers > 0))
      .map((o) => [o.failed, o.stored, o.dropped, o.staleMarkers]);
    assert.deepEqual(mine, [
      ...Array(full).fill([false, 50, 294, 0]),
      [false, 28, 294, 22],
      ...Array(noTpotPages - 1).fill([false, 28, 294, 0]),
      [true, 0, 0, 28],
    ]);
    assert.equal(v.lastSamplesScraped, 346 - 22);
    assert.deepEqual(v.lastDroppedByReason, { unmapped: 294 });
    const lastFull = BASE + (full - 1) * STEP;

    // Every stored series carries exactly project_id, model_name, service_tier (+ le).
    const q = db.querier(BASE - 3_600_000, BASE + 3_600_000);
    const names = q.labelNames(new Matcher("=~", "__name__", ".+"));
    q.close();
    assert.deepEqual(names, ["__name__", "le", "model_name", "project_id", "service_tier"]);

    // Request rate: each 15 s brings one page's worth of requests.
    const rate = engine.instantQuery(
      db,
      'sum by (model_name) (rate(crusoe_inference_request_count{project_id="acme"}[1m]))',
      lastFull,
    );
    assert.equal(rate.value.type, "vector");
    if (rate.value.type !== "vector") return;
    assert.equal(rate.value.samples.length, 1);
    assert.deepEqual(rate.value.samples[0].metric, [{ name: "model_name", value: MODEL }]);
    assert.ok(Math.abs(rate.value.samples[0].v - 1868 / 15) < 1e-9, String(rate.value.samples[0].v));

    // The page's TTFT and TPOT medians (irate, [300s]) equal the page's distribution.
    const median = (metric: string) => {
      const r = engine.instantQuery(
        db,
        `histogram_quantile( 0.5, sum by (model_name, le) ( irate( ${metric}{project_id="acme", model_name="${MODEL}"}[300s] ) ) )`,
        lastFull,
      );
      assert.equal(r.value.type, "vector");
      return r.value.type === "vector" ? r.value.samples[0].v : Number.NaN;
    };
    // Rank 934 of 1868 falls in (0.08, 0.1] between cumulative counts 794 and 1056.
    const ttft = 0.08 + (0.1 - 0.08) * ((934 - 794) / (1056 - 794));
    const gotTtft = median("crusoe_inference_histogram_first_token_latency_bucket");
    assert.ok(Math.abs(gotTtft - ttft) < 1e-12, `TTFT median ${gotTtft}, want ${ttft}`);
    // Rank 200324.5 of 400649 falls in (0.01, 0.025] between 1204 and 332791.
    const tpot = 0.01 + (0.025 - 0.01) * ((200324.5 - 1204) / (332791 - 1204));
    const gotTpot = median("crusoe_inference_histogram_output_token_latency_bucket");
    assert.ok(Math.abs(gotTpot - tpot) < 1e-12, `TPOT median ${gotTpot}, want ${tpot}`);
  });

  it("writes stale markers when series vanish and when the target fails", () => {
    const full = fullPages;
    const noTpotAt = BASE + full * STEP; // first scrape without the TPOT histogram
    const failedAt = BASE + (full + noTpotPages) * STEP; // the 503 (the clock moves on pages only)
    const read = (name: string) => {
      const q = db.querier(BASE - 3_600_000, BASE + 3_600_000);
      const set = q.select(true, undefined, new Matcher("=", "__name__", name));
      assert.ok(set.next(), name);
      const it = set.at().iterator();
      // The marker is judged as it is read: a plain JS array may rewrite NaN bits.
      const out: [number, number, boolean][] = [];
      while (it.next()) out.push([it.atT(), it.atV(), isStaleNaN(it.atV())]);
      q.close();
      return out;
    };
    const tpot = read("crusoe_inference_histogram_output_token_latency_count");
    const [t, , stale] = tpot[tpot.length - 1];
    assert.equal(t, noTpotAt);
    assert.ok(stale, "TPOT series got a stale marker when it left the page");
    assert.ok(
      tpot.slice(0, -1).every(([, , st]) => !st),
      "no marker before the series left",
    );
    assert.equal(tpot.length, full + 1);

    const requests = read("crusoe_inference_request_count");
    assert.equal(requests.length, full + noTpotPages + 1, "full pages, pages without TPOT, the marker");
    const [lt, , lstale] = requests[requests.length - 1];
    assert.equal(lt, failedAt);
    assert.ok(lstale, "a failed scrape marks every series stale");
    // Before the marker the counter kept its values.
    assert.equal(requests[0][1], 1868);
    assert.equal(requests[full][1], 1868 * (full + 1));

    // Instant queries stop returning the series at the marker, not 5 minutes later.
    const at = (time: number) => {
      const r = engine.instantQuery(db, "crusoe_inference_request_count", time);
      return r.value.type === "vector" ? r.value.samples.length : -1;
    };
    assert.equal(at(failedAt - 1), 1);
    assert.equal(at(failedAt), 0);
    assert.equal(at(failedAt + 60_000), 0);
    assert.ok(status("vllm").staleMarkers >= 22 + 28, "22 TPOT series, then the other 28");
  });

  it("stores nothing more after close, not even stale markers", async () => {
    const q = db.querier(BASE - 3_600_000, BASE + 3_600_000);
    const before = q.select(false, undefined, new Matcher("=~", "__name__", ".+"));
    let n = 0;
    while (before.next()) {
      const it = before.at().iterator();
      while (it.next()) n++;
    }
    q.close();
    mode = "full";
    await new Promise((r) => setTimeout(r, 250));
    const q2 = db.querier(BASE - 3_600_000, BASE + 3_600_000);
    const after2 = q2.select(false, undefined, new Matcher("=~", "__name__", ".+"));
    let m = 0;
    while (after2.next()) {
      const it = after2.at().iterator();
      while (it.next()) m++;
    }
    q2.close();
    assert.equal(m, n);
  });
});
