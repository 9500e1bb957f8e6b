/**
 * Opens the storage mode the configuration names, once, into one ServiceStorage (storage.ts):
 * the metadata database and the token stores (embedded SQLite, or PostgreSQL shared by replicas,
 * with the rules' lease), then the samples' side (embedded store and query workers, or the
 * remote-write queue and the engine's query API). Closing goes in reverse.
 * Before any of it, the data directory's lock (data-dir-lock.ts): a second process on the same
 * directory is refused before it opens or replays anything; the lock is released last.
 */
import type pino from "pino";
import { openMetaDb } from "../auth/meta-db.js";
import { openTokenStores } from "../auth/open.js";
import { QueryPool } from "../exec/query-pool.js";
import type { EngineOptions } from "../promql/engine.js";
import type { RemoteWriteStorage } from "../remote/sender/index.js";
import { SOLE_LEADER } from "../rules/leadership.js";
import type { SyncMode } from "../tsdb/sqlite-store.js";
import { Tsdb } from "../tsdb/tsdb.js";
import { CloseStack } from "./close-stack.js";
import { acquireDataDirLock, type DataDirLock } from "./data-dir-lock.js";
import { embeddedSamples } from "./embedded.js";
import { openRemoteSamples, type RemoteStorageConfig } from "./remote.js";
import type { SampleStorage, ServiceStorage } from "./storage.js";

export interface StorageConfig {
  /** Holds the store (or the remote-write queue) and the metadata database. */
  dataDir: string;
  retentionMs: number;
  sync: SyncMode;
  maxDiskBytes: number;
  /** What every query is evaluated with (embedded mode). */
  engine: Pick<EngineOptions, "lookbackDeltaMs" | "timeoutMs" | "maxSamples"> & { timeoutMs: number };
  /** Worker threads evaluating queries (default: one per core, at least 2). */
  queryWorkers?: number;
  /** Heap budget of one query, MiB (default 1024). */
  queryMaxMemoryMb?: number;
  /** Tokens in this PostgreSQL database, and the rules under its lease; else the metadata database. */
  postgresUrl?: string;
  /** Remote storage mode; without it the embedded store holds everything. */
  remote?: RemoteStorageConfig;
}

/** The opened mode, and for the composition root (and its tests) the parts it was made of. */
export interface OpenedStorage {
  storage: ServiceStorage;
  /** Held until `storage.close()`; `locked` is false only on a disk too full to write it. */
  dataDirLock: DataDirLock;
  db?: Tsdb;
  queryPool?: QueryPool;
  remoteQueue?: RemoteWriteStorage;
}

export async function openStorage(cfg: StorageConfig, logger: pino.Logger): Promise<OpenedStorage> {
  // First: throws DataDirInUseError (naming the holder) before anything in the directory is opened.
  const dataDirLock = acquireDataDirLock(cfg.dataDir);
  if (dataDirLock.warning) logger.warn({ component: "data-dir" }, dataDirLock.warning);
  const closers = new CloseStack((err) => logger.error({ err }, "error while closing the storage"));
  // Pushed first, so released last: after every file of the directory is closed.
  closers.push(() => dataDirLock.release());
  const closeAll = () => closers.closeAll();
  try {
    const meta = openMetaDb(cfg.dataDir, (m) => logger.warn({ component: "tokens" }, m));
    closers.push(() => {
      meta.close();
    });
    const opened: Omit<OpenedStorage, "storage"> = { dataDirLock };
    let samples: SampleStorage;
    if (cfg.remote) {
      const remote = openRemoteSamples({
        remote: cfg.remote,
        dataDir: cfg.dataDir,
        sync: cfg.sync,
        queryTimeoutMs: cfg.engine.timeoutMs,
        log: (m) => logger.warn({ component: "remote-write" }, m),
      });
      opened.remoteQueue = remote.queue;
      samples = remote;
    } else {
      const db = Tsdb.open({
        dir: cfg.dataDir,
        retentionMs: cfg.retentionMs,
        sync: cfg.sync,
        maxDiskBytes: cfg.maxDiskBytes,
        log: (m, level) => logger[level]({ component: "tsdb" }, m),
      });
      // One pool of query workers for the API and the rules: no query runs on this thread.
      const pool = new QueryPool({
        workers: cfg.queryWorkers,
        maxMemoryMb: cfg.queryMaxMemoryMb,
        engine: cfg.engine,
        log: (m) => logger.error({ component: "query-pool" }, m),
      });
      opened.db = db;
      opened.queryPool = pool;
      samples = embeddedSamples({
        store: db,
        runner: pool,
        queryTimeoutMs: cfg.engine.timeoutMs,
        closeStore: () => db.close(),
      });
    }
    closers.push(() => samples.close());
    const tokenStores = await openTokenStores({
      postgresUrl: cfg.postgresUrl,
      metaDb: meta,
      log: (fields, message) => logger.info({ component: "tokens", ...fields }, message),
    });
    closers.push(() => tokenStores.close());
    const storage: ServiceStorage = {
      mode: samples.mode,
      appendable: samples.appendable,
      queries: samples.queries,
      ruleQuery: samples.ruleQuery,
      querySlots: samples.querySlots,
      watch: (metrics) => samples.watch(metrics),
      tokens: tokenStores.tokens,
      ingestTokens: tokenStores.ingestTokens,
      rulesLeadership: tokenStores.rulesLease ?? SOLE_LEADER,
      start: () => tokenStores.start(),
      close: closeAll,
    };
    return { ...opened, storage };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
