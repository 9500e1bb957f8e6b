/**
 * Starts the real service stack for API tests: an embedded TSDB and metadata database in a temp
 * directory, the token store and the Fastify server on 127.0.0.1 with an ephemeral port. With
 * `remote`, the same server in remote storage mode: `load` goes through the remote-write queue to
 * the engine and queries to its API (the embedded store is still opened, and left empty).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyBaseLogger } from "fastify";
import type { ApiLimits } from "../../src/api/context.js";
import { buildApiServer, TIMESERIES_PREFIX } from "../../src/api/server.js";
import { openMetaDb } from "../../src/auth/meta-db.js";
import type { TokenStore } from "../../src/auth/token-store.js";
import { openRemoteSamples } from "../../src/modes/remote.js";
import type { SampleStorage } from "../../src/modes/storage.js";
import { labelsFromObject } from "../../src/storage/index.js";
import { Tsdb } from "../../src/tsdb/tsdb.js";
import { embeddedTestSamples, sqliteTokenStores } from "../support/test-storage.js";

export const ADMIN_KEY = "mim_adm_test-admin-key-0123456789";

export interface SampleSeries {
  labels: Record<string, string>;
  /** [ms, value] pairs in time order. */
  samples: ReadonlyArray<readonly [number, number]>;
}

export interface TestService {
  /** http://127.0.0.1:port */
  url: string;
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

export async function startTestService(
  opts: {
    limits?: Partial<ApiLimits>;
    logger?: FastifyBaseLogger;
    now?: () => number;
    webRoot?: string;
    remote?: RemoteEngine;
  } = {},
): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), "mim-api-"));
  const db = Tsdb.open({ dir, log: () => {} });
  const meta = openMetaDb(dir);
  const stores = sqliteTokenStores(meta, opts.now);
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
    adminKey: ADMIN_KEY,
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
    now: opts.now,
  });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    url: address,
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
