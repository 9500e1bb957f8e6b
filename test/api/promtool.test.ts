/**
 * Drives the real query API with Debian's `promtool` (Prometheus's own CLI and Go client). The
 * server argument is a project's base URL; promtool appends /api/v1/<endpoint> to it.
 *
 * How the token reaches the service depends on the promtool version, found from its help:
 * - `promtool query --http.config.file` (Prometheus >= 2.43): a temp YAML with
 *   `authorization: {type: Bearer, credentials: <token>}`, straight to the service.
 * - Prometheus 2.42 (Debian 12) has no such flag, and `--header` only on `query range`. For
 *   instant, series and labels the test points promtool at a small reverse proxy on 127.0.0.1
 *   that adds `Authorization: Bearer <token>` (what a user of that version would run), and
 *   records what promtool sent, so the request shapes are checked too.
 * `query range` always uses `--header=Authorization=Bearer <token>`.
 *
 * Without promtool the suite is skipped locally and fails in CI (CI=true).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  assertClose,
  END_MS,
  expectedRateByModel,
  INPUT_TOKENS,
  MODELS,
  OTHER,
  PROJECT,
  projectData,
  REQUESTS,
  START_MS,
} from "./client-fixtures.js";
import { startRouteService, type TestService } from "./harness.js";

const PROMTOOL = process.env.PROMTOOL ?? "/usr/bin/promtool";
const INSTALLED = existsSync(PROMTOOL);
const IN_CI = process.env.CI === "true";
const MISSING = `promtool not found at ${PROMTOOL} (Debian/Ubuntu: apt-get install prometheus; or set PROMTOOL=/path/to/promtool)`;

// ---------------------------------------------------------------------------------------------
// Data: the product's counters for two projects, a sample every 15 s with jittered timestamps.

const DATA = projectData(PROJECT, 1, MODELS);
// The other project has the same metric names, but its own model and far larger numbers.
const OTHER_DATA = projectData(OTHER, 100, ["secret-model"]).map((s) => ({
  labels: s.labels,
  samples: s.samples.map(([t, v]) => [t, v * 1000] as const),
}));

const iso = (ms: number) => new Date(ms).toISOString();

// ---------------------------------------------------------------------------------------------
// Running promtool, and the auth proxy for versions without --http.config.file.

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs promtool asynchronously: the service lives in this process, so spawnSync would deadlock. */
function promtool(args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 15_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function ok(r: RunResult, what: string): string {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}): ${r.stderr}`);
  return r.stdout;
}

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType: string;
  body: string;
}

interface AuthProxy {
  /** http://127.0.0.1:port: put the service's path after it. */
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

/** A reverse proxy on 127.0.0.1 that adds `Authorization: Bearer <token>` and records each request. */
async function startAuthProxy(target: string, token: string): Promise<AuthProxy> {
  const upstream = new URL(target);
  const requests: Recorded[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const u = new URL(req.url ?? "/", "http://proxy");
      requests.push({
        method: req.method ?? "",
        path: u.pathname,
        query: u.searchParams,
        contentType: req.headers["content-type"] ?? "",
        body: body.toString("utf8"),
      });
      const headers = { ...req.headers, host: upstream.host, authorization: `Bearer ${token}` };
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on("error", (err) => {
        res.writeHead(502).end(String(err));
      });
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

// ---------------------------------------------------------------------------------------------

test("promtool is installed", { skip: !INSTALLED && !IN_CI ? MISSING : false }, () => {
  assert.ok(INSTALLED, `${MISSING}; CI must run the promtool tests`);
});

describe("promtool against the query API", { skip: INSTALLED ? false : MISSING }, () => {
  let s: TestService;
  let dir: string;
  let token: string;
  let otherToken: string;
  let version = "";
  let httpConfigFlag = false;
  let checkHealthy = false;
  const proxies: AuthProxy[] = [];
  /** The proxy that adds this project's token (only without --http.config.file). */
  let proxy: AuthProxy | undefined;

  const pathOf = (base: string) => new URL(base).pathname;

  /** Writes a promtool HTTP client config holding a token; returns its path. */
  function httpConfig(tok: string): string {
    const file = join(dir, `http-${tok.slice(-8)}.yml`);
    writeFileSync(file, `authorization:\n  type: Bearer\n  credentials: ${JSON.stringify(tok)}\n`);
    return file;
  }

  /**
   * `promtool query [-o fmt] <sub> <flags…> <server> [arg]` with `tok` for `project`. With
   * --http.config.file the server is the project's base URL; without it, a proxy adding the token.
   */
  async function query(
    sub: "instant" | "series" | "labels",
    opts: { format?: "json" | "promql"; flags?: string[]; arg?: string; tok?: string; project?: string },
  ): Promise<RunResult> {
    const tok = opts.tok ?? token;
    const base = s.base(opts.project ?? PROJECT);
    const head = ["query", "-o", opts.format ?? "json"];
    let server = base;
    if (httpConfigFlag) {
      head.push(`--http.config.file=${httpConfig(tok)}`);
    } else {
      let p = tok === token ? proxy : undefined;
      if (!p) {
        p = await startAuthProxy(s.url, tok);
        proxies.push(p);
      }
      server = p.url + pathOf(base);
    }
    return promtool([
      ...head,
      sub,
      ...(opts.flags ?? []),
      server,
      ...(opts.arg === undefined ? [] : [opts.arg]),
    ]);
  }

  before(async () => {
    // Listening: promtool is another process talking HTTP to us (through a proxy, on old releases).
    s = await startRouteService({ listen: true });
    s.load([...DATA, ...OTHER_DATA]);
    token = s.token(PROJECT);
    otherToken = s.token(OTHER);
    dir = mkdtempSync(join(tmpdir(), "mim-promtool-"));
    version = (await promtool(["--version"])).stdout.split("\n")[0];
    // Flags of the `query` command itself are listed by `query --help`, not by --help-long.
    httpConfigFlag = (await promtool(["query", "--help"])).stdout.includes("--http.config.file");
    checkHealthy = /^\s*check healthy\b/m.test((await promtool(["--help-long"])).stdout);
    if (!httpConfigFlag) {
      proxy = await startAuthProxy(s.url, token);
      proxies.push(proxy);
    }
  });

  after(async () => {
    for (const p of proxies) await p.close();
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("instant query: sum by (model_name) (rate(…[300s])) matches the computed rate", async () => {
    const t = END_MS - 4_321; // not on a sample, not on a second
    const expr = `sum by (model_name) (rate(${REQUESTS}{service_tier=~"pt|on_demand"}[300s]))`;
    const r = await query("instant", { flags: [`--time=${iso(t)}`], arg: expr });
    const out = JSON.parse(ok(r, "query instant")) as Array<{
      metric: Record<string, string>;
      value: [number, string];
    }>;
    const expected = expectedRateByModel(DATA, REQUESTS, t, 300_000);
    assert.equal(expected.size, 2);
    assert.deepEqual(out.map((e) => e.metric.model_name).sort(), [...expected.keys()].sort());
    for (const e of out) {
      assert.deepEqual(Object.keys(e.metric), ["model_name"]);
      assert.equal(e.value[0], t / 1000, "sample timestamp is the evaluation time");
      assert.equal(typeof e.value[1], "string");
      assertClose(Number(e.value[1]), expected.get(e.metric.model_name)!, e.metric.model_name);
    }

    if (proxy) {
      // client_golang's DoGetFallback: a form POST to <base>/api/v1/query.
      const req = proxy.requests.at(-1)!;
      assert.equal(req.method, "POST");
      assert.equal(req.path, `${pathOf(s.base(PROJECT))}/api/v1/query`);
      assert.match(req.contentType, /^application\/x-www-form-urlencoded/);
      const form = new URLSearchParams(req.body);
      assert.equal(form.get("query"), expr);
      assert.equal(Number(form.get("time")), t / 1000);
    }
  });

  test("instant query: promql output format, and a scalar", async () => {
    const t = END_MS;
    const r = await query("instant", {
      format: "promql",
      flags: [`--time=${iso(t)}`],
      arg: `sum(${REQUESTS}{model_name="${MODELS[0]}"})`,
    });
    let sum = 0;
    for (const sr of DATA) {
      if (sr.labels.__name__ !== REQUESTS || sr.labels.model_name !== MODELS[0]) continue;
      sum += sr.samples.filter(([ts]) => ts <= t).at(-1)![1];
    }
    // model.Vector's String(): `{} => <value> @[<unix seconds>]`.
    assert.equal(ok(r, "query instant").trim(), `{} => ${sum} @[${t / 1000}]`);

    const scalar = await query("instant", { flags: [`--time=${iso(t)}`], arg: "1+1" });
    assert.deepEqual(JSON.parse(ok(scalar, "query instant 1+1")), [t / 1000, "2"]);
  });

  test("range query via --header: every step of sum by (model_name) (rate(…[300s]))", async () => {
    const start = END_MS - 1_800_000 - 250;
    const expr = `sum by (model_name) (rate(${REQUESTS}[300s]))`;
    const r = await promtool([
      "query",
      "-o",
      "json",
      "range",
      `--header=Authorization=Bearer ${token}`,
      `--start=${iso(start)}`,
      `--end=${iso(END_MS)}`,
      "--step=1m",
      s.base(PROJECT),
      expr,
    ]);
    const out = JSON.parse(ok(r, "query range")) as Array<{
      metric: Record<string, string>;
      values: Array<[number, string]>;
    }>;
    // Matrix results are sorted by labels.
    assert.deepEqual(
      out.map((m) => m.metric),
      MODELS.map((model_name) => ({ model_name })),
    );
    for (const m of out) {
      assert.equal(m.values.length, 31, "floor((end - start) / step) + 1 points");
      m.values.forEach(([ts, v], i) => {
        const t = start + i * 60_000;
        assert.equal(ts, t / 1000);
        assertClose(
          Number(v),
          expectedRateByModel(DATA, REQUESTS, t, 300_000).get(m.metric.model_name)!,
          `@${ts}`,
        );
      });
    }
  });

  test("range query: promql output lists each point under its series", async () => {
    const r = await promtool([
      "query",
      "range",
      `--header=Authorization=Bearer ${token}`,
      `--start=${iso(END_MS - 120_000)}`,
      `--end=${iso(END_MS)}`,
      "--step=60s",
      s.base(PROJECT),
      `count by (service_tier) (${REQUESTS})`,
    ]);
    const t = (k: number) => (END_MS - 120_000 + k * 60_000) / 1000;
    assert.equal(
      ok(r, "query range").trim(),
      ["on_demand", "pt"]
        .map((tier) => `{service_tier="${tier}"} =>\n2 @[${t(0)}]\n2 @[${t(1)}]\n2 @[${t(2)}]`)
        .join("\n"),
    );
  });

  test("series --match: the project's series only, with all their labels", async () => {
    const r = await query("series", {
      flags: [
        `--match=${REQUESTS}{model_name="${MODELS[1]}"}`,
        `--match=${INPUT_TOKENS}{service_tier="pt",model_name=~"llama.*|secret-model"}`,
        `--start=${iso(START_MS)}`,
        `--end=${iso(END_MS)}`,
      ],
    });
    const out = JSON.parse(ok(r, "query series")) as Array<Record<string, string>>;
    const expected = [
      { __name__: INPUT_TOKENS, model_name: MODELS[0], project_id: PROJECT, service_tier: "pt" },
      { __name__: REQUESTS, model_name: MODELS[1], project_id: PROJECT, service_tier: "pt" },
      { __name__: REQUESTS, model_name: MODELS[1], project_id: PROJECT, service_tier: "on_demand" },
    ];
    assert.deepEqual(
      out.map((ls) => JSON.stringify(ls)).sort(),
      expected.map((ls) => JSON.stringify(ls)).sort(),
    );
  });

  test("series with no match in the time range is an empty list", async () => {
    const r = await query("series", {
      flags: [
        `--match=${REQUESTS}`,
        `--start=${iso(START_MS - 7_200_000)}`,
        `--end=${iso(START_MS - 3_600_000)}`,
      ],
    });
    assert.deepEqual(JSON.parse(ok(r, "query series")), []);
  });

  test("labels <name>: values of the project, sorted, filtered by --match", async () => {
    const all = await query("labels", { format: "promql", arg: "model_name" });
    assert.equal(ok(all, "query labels").trim(), MODELS.join("\n"));

    const matched = await query("labels", {
      flags: [`--match=${REQUESTS}{model_name=~"mistral.*"}`],
      arg: "service_tier",
    });
    assert.deepEqual(JSON.parse(ok(matched, "query labels --match")), ["on_demand", "pt"]);

    const names = await query("labels", { arg: "__name__" });
    assert.deepEqual(JSON.parse(ok(names, "query labels __name__")), [INPUT_TOKENS, REQUESTS]);

    if (proxy) {
      // Label values are always a GET to <base>/api/v1/label/<name>/values.
      const req = proxy.requests.at(-1)!;
      assert.equal(req.method, "GET");
      assert.equal(req.path, `${pathOf(s.base(PROJECT))}/api/v1/label/__name__/values`);
    }
  });

  test("another project's token is refused with a 403 promtool reports", async () => {
    const expr = `sum(${REQUESTS})`;
    const viaQuery = await query("instant", { tok: otherToken, arg: expr });
    assert.notEqual(viaQuery.code, 0, viaQuery.stdout);
    assert.equal(viaQuery.stdout, "");
    assert.match(viaQuery.stderr, /query error: .*403/);
    assert.match(viaQuery.stderr, /does not grant access to the requested project/);

    const viaHeader = await promtool([
      "query",
      "range",
      `--header=Authorization=Bearer ${otherToken}`,
      `--start=${iso(END_MS - 600_000)}`,
      `--end=${iso(END_MS)}`,
      "--step=1m",
      s.base(PROJECT),
      expr,
    ]);
    assert.notEqual(viaHeader.code, 0);
    assert.match(viaHeader.stderr, /403.*does not grant access to the requested project/);

    const labels = await query("labels", { tok: otherToken, arg: "model_name" });
    assert.notEqual(labels.code, 0);
    assert.match(labels.stderr, /403/);
    assert.doesNotMatch(labels.stdout, /secret-model|llama/);
  });

  test("no token: 401 with the service's hint", async () => {
    const r = await promtool(["query", "instant", s.base(PROJECT), "1+1"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /401/);
    assert.match(r.stderr, /missing credentials/);
  });

  test("a PromQL syntax error is reported as bad_data with Prometheus's message", async () => {
    const r = await query("instant", { flags: [`--time=${iso(END_MS)}`], arg: `sum(rate(${REQUESTS}[5m])` });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /query error: bad_data: invalid parameter "query": 1:\d+: parse error: /);
  });

  test("check healthy / check ready --url <base>", async (t) => {
    // Prometheus 2.42 (Debian 12) has no `check healthy|ready`; later releases have them with --url.
    if (!checkHealthy) {
      t.skip(`${version}: no "check healthy" command`);
      return;
    }
    const healthy = await promtool(["check", "healthy", `--url=${s.base(PROJECT)}`]);
    assert.equal(healthy.code, 0, healthy.stderr);
    assert.match(healthy.stderr, /SUCCESS: +Healthy\./);
    const ready = await promtool(["check", "ready", `--url=${s.base(PROJECT)}`]);
    assert.equal(ready.code, 0, ready.stderr);
    assert.match(ready.stderr, /SUCCESS: +Ready\./);
  });
});
