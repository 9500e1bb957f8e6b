/**
 * The composition root of `mim serve`: opens the embedded store and the metadata database, loads
 * or creates the admin key, and starts the API server. Kept apart from flag parsing so tests and
 * the demo start exactly what operators run.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import type { ApiLimits } from "../api/context.js";
import { buildApiServer } from "../api/server.js";
import { type AdminKey, loadOrCreateAdminKey } from "../auth/admin-key.js";
import { openMetaDb } from "../auth/meta-db.js";
import { INGEST_TOKENS, TokenStore } from "../auth/tokens.js";
import type { SyncMode } from "../tsdb/sqlite-store.js";
import { Tsdb } from "../tsdb/tsdb.js";

export interface ServiceConfig {
  dataDir: string;
  /** host:port to listen on; port 0 picks a free one. */
  listen: string;
  retentionMs: number;
  sync: SyncMode;
  maxDiskBytes: number;
  lookbackDeltaMs: number;
  limits: ApiLimits;
  logLevel: string;
  /** MIM_ADMIN_KEY, if set. */
  adminKeyFromEnv?: string;
  /** Where JSON logs go (default stdout). */
  logDestination?: NodeJS.WritableStream;
}

export interface RunningService {
  /** e.g. http://127.0.0.1:9300 */
  url: string;
  adminKey: AdminKey;
  db: Tsdb;
  tokens: TokenStore;
  app: FastifyInstance;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`invalid --listen ${JSON.stringify(listen)}: use HOST:PORT`);
  const host = m[1].replace(/^\[(.*)\]$/, "$1") || "0.0.0.0";
  return { host, port: Number(m[2]) };
}

export async function startService(cfg: ServiceConfig): Promise<RunningService> {
  const dataDir = resolve(cfg.dataDir);
  const { host, port } = parseListen(cfg.listen);
  mkdirSync(dataDir, { recursive: true });
  const logger = pino(
    {
      level: cfg.logLevel,
      base: { service: "mim" },
      redact: {
        paths: ["req.headers.authorization", "headers.authorization", "token"],
        censor: "[REDACTED]",
      },
    },
    (cfg.logDestination ?? process.stdout) as pino.DestinationStream,
  );
  const db = Tsdb.open({
    dir: dataDir,
    retentionMs: cfg.retentionMs,
    sync: cfg.sync,
    maxDiskBytes: cfg.maxDiskBytes,
    log: (m) => logger.info({ component: "tsdb" }, m),
  });
  const meta = openMetaDb(dataDir);
  const tokens = new TokenStore(meta);
  const ingestTokens = new TokenStore(meta, Date.now, INGEST_TOKENS);
  let app: FastifyInstance | undefined;
  try {
    const adminKey = loadOrCreateAdminKey(dataDir, cfg.adminKeyFromEnv);
    app = await buildApiServer({
      storage: db,
      writable: db,
      tokens,
      ingestTokens,
      adminKey: adminKey.value,
      limits: cfg.limits,
      engine: { lookbackDeltaMs: cfg.lookbackDeltaMs },
      logger,
    });
    const address = await app.listen({ host, port });
    const url =
      host === "0.0.0.0" || host === "::"
        ? address.replace(/\/\/[^:/]+|\/\/\[[^\]]+\]/, "//127.0.0.1")
        : address;
    const running = app;
    let closed = false;
    return {
      url,
      adminKey,
      db,
      tokens,
      app: running,
      async close() {
        if (closed) return;
        closed = true;
        await running.close();
        tokens.close();
        ingestTokens.close();
        meta.close();
        db.close();
        logger.flush();
      },
    };
  } catch (err) {
    await app?.close();
    tokens.close();
    ingestTokens.close();
    meta.close();
    db.close();
    throw err;
  }
}
