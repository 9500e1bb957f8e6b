/**
 * Starts the real service stack for API tests: an embedded TSDB and metadata database in a temp
 * directory, the token store and the Fastify server. With `remote`, the same server in remote
 * storage mode: `load` goes through the remote-write queue to the engine and queries to its API
 * (the embedded store is still opened, and left empty).
 *
 * `startRouteService` answers in-process by default: `fetch` and `raw` go through Fastify's
 * inject path (see in-process.ts), and `url`/`base()` name the fixed origin http://mim.test, which
 * nothing outside this process can reach. Tests whose subject is the socket (a child process or
 * a real Prometheus talking HTTP to us, a client that disconnects, the HTTP parser's limits)
 * pass `listen: true` and get 127.0.0.1 on an ephemeral port; `fetch` is then the global fetch.
 * `startTestService` is the same with a socket by default, for the importers written before the
 * in-process mode, which hand `url` to clients of their own.
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { ApiLimits } from "../../src/api/context.js";
import type { RulesView } from "../../src/api/metadata-routes.js";
import { buildApiServer, TIMESERIES_PREFIX } from "../../src/api/server.js";
import { openMetaDb } from "../../src/auth/meta-db.js";
import type { TokenStore } from "../../src/auth/token-store.js";
import type { TokenTable } from "../../src/auth/token-table.js";
import { openRemoteSamples } from "../../src/modes/remote.js";
import type { SampleStorage } from "../../src/modes/storage.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { embeddedTestSamples, sqliteTokenStores } from "../support/test-storage.js";
import {
  IN_PROCESS_ORIGIN,
  injectFetch,
  injectRaw,
  type RawRequest,
  type RawResponse,
} from "./in-process.js";

export { IN_PROCESS_ORIGIN, type RawRequest, type RawResponse } from "./in-process.js";

export const ADMIN_KEY = "mim_adm_test-admin-key-0123456789";

export interface SampleSeries {
  labels: Record<string, string>;
  /** [ms, value] pairs in time order. */
  samples: ReadonlyArray<readonly [number, number]>;
}

export interface TestService {
  /** http://127.0.0.1:port when listening, else IN_PROCESS_ORIGIN (reachable through `fetch` only). */
  url: string;
  /** Whether `url` is a real socket that other clients and processes can reach. */
  listening: boolean;
  /** The global fetch's signature, for URLs of `url`: in-process unless listening. */
  fetch: typeof fetch;
  /** A request whose target is sent byte for byte (fetch would normalise "..", "%2e", "#"). */
  raw(r: Omit<RawRequest, "remoteAddress" | "signal">): Promise<RawResponse>;
  app: FastifyInstance;
  db: Tsdb;
  tokens: TokenStore;
  dir: string;
  /** The query API base URL of a project. */
  base(projectId: string): string;
  ingestTokens: TokenStore;
  /** Creates an ingest token (for one project, or "*" for all) through the store. */
  ingestToken(projectId?: string): string;
  /** Creates a monitoring token for a project through the store (not the HTTP API). */
  token(projectId: string, expiresAt?: Date | null): string;
  load(series: readonly SampleSeries[]): void;
  /** Resolves once what was loaded is queryable (remote mode: queue drained, engine flushed). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** A remote engine for remote storage mode (see test/support/engines.ts). */
export interface RemoteEngine {
  writeUrl: string;
  url: string;
  flush(): Promise<void>;
}

export interface TestServiceOptions {
  /** Over the harness's defaults, which switch every rate limit off. */
  limits?: Partial<ApiLimits>;
  logger?: FastifyBaseLogger;
  now?: () => number;
  webRoot?: string;
  remote?: RemoteEngine;
  /** A real socket on 127.0.0.1 rather than in-process requests. */
  listen?: boolean;
  adminKey?: string;
  /** The recording rules /api/v1/rules shows. */
  rules?: () => RulesView;
  /** Wraps (or replaces) the monitoring-token repository. */
  monitoringTable?: (sqlite: TokenTable) => TokenTable;
  /** Where the metadata database lives (default: the service's temp directory). */
  metaDir?: string;
  /** Serve POST /api/v1/write (default true). */
  remoteWrite?: boolean;
}

/** A service on a real socket unless `listen: false`: see the file comment. */
export function startTestService(opts: TestServiceOptions = {}): Promise<TestService> {
  return startRouteService({ ...opts, listen: opts.listen ?? true });
}

/** A service answering in-process unless `listen: true`. */
export async function startRouteService(opts: TestServiceOptions = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), "mim-api-"));
  const db = Tsdb.open({ dir, log: () => {} });
  const meta = openMetaDb(opts.metaDir ?? dir);
  const stores = sqliteTokenStores(meta, opts.now, opts.monitoringTable);
  const { tokens, ingestTokens } = stores;
  const remote = opts.remote
    ? openRemoteSamples({
        remote: { writeUrl: opts.remote.writeUrl, queryUrl: opts.remote.url },
        dataDir: dir,
        queryTimeoutMs: 120_000,
        queueTiming: { batchDeadlineMs: 50 },
      })
    : undefined;
  const samples: SampleStorage = remote ?? embeddedTestSamples(db, opts.limits);
  const target = samples.appendable;
  const app = await buildApiServer({
    storage: { ...samples, tokens, ingestTokens },
    adminKey: opts.adminKey ?? ADMIN_KEY,
    remoteWrite: opts.remoteWrite,
    // No rate limits unless a test asks: the suites send hundreds of requests, bad credentials
    // among them, from one address and one project.
    limits: {
      rateLimitPerSecond: 0,
      projectRateLimitPerSecond: 0,
      authFailuresPerMinute: 0,
      tokenCreatesPerMinute: 0,
      ...opts.limits,
    },
    logger: opts.logger ?? false,
    webRoot: opts.webRoot,
    rules: opts.rules,
    now: opts.now,
  });
  const listening = opts.listen === true;
  let address = IN_PROCESS_ORIGIN;
  if (listening) address = await app.listen({ host: "127.0.0.1", port: 0 });
  else await app.ready();
  return {
    url: address,
    listening,
    fetch: listening ? globalThis.fetch : injectFetch(app),
    raw: (r) => (listening ? rawOverSocket(address, r) : injectRaw(app, r)),
    app,
    db,
    tokens,
    dir,
    base: (projectId) => address + TIMESERIES_PREFIX.replace(":projectId", encodeURIComponent(projectId)),
    token: stores.mint,
    ingestTokens,
    ingestToken: stores.mintIngest,
    load(series) {
      const app = target.appender();
      for (const s of series) {
        const labels = labelsFromObject(s.labels);
        let ref = 0;
        for (const [t, v] of s.samples) ref = app.append(ref, labels, t, v);
      }
      app.commit();
    },
    async settle() {
      if (!remote || !opts.remote) return;
      if (!(await remote.queue.drain(60_000)))
        throw new Error("the remote-write queue did not drain in 60 s");
      await opts.remote.flush();
    },
    async close() {
      await app.close();
      await samples.close();
      await stores.close();
      meta.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `raw` of a listening service: one connection per request, so none outlives the test. */
function rawOverSocket(origin: string, r: RawRequest): Promise<RawResponse> {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: r.method ?? "GET",
        path: r.path,
        headers: r.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? "",
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(r.body);
  });
}
