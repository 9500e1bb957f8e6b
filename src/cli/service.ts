/**
 * The composition root of `mim serve`: opens the embedded store and the metadata database, loads
 * or creates the admin key, starts the API server, then what feeds the store: the recording rules,
 * the metering gateway, the scraper and, for the demo, a simulated fleet with its load. Kept apart
 * from flag parsing so tests and the demo start exactly what operators run. Closing stops the
 * producers first (the gateway's last flush lands), then the API, then the store.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import type { ApiLimits } from "../api/context.js";
import { buildApiServer } from "../api/server.js";
import { type AdminKey, loadOrCreateAdminKey } from "../auth/admin-key.js";
import { openMetaDb } from "../auth/meta-db.js";
import { openTokenRepositories } from "../auth/pg/open.js";
import type { TokenRepository } from "../auth/pg/repository.js";
import {
  type Gateway,
  type GatewayConfig,
  loadGatewayConfig,
  parseGatewayConfig,
  startGateway,
} from "../gateway/index.js";
import { loadScrapeConfig, type ScrapeConfig, type Scraper, startScraper } from "../ingest/scrape/index.js";
import { newEngine } from "../promql/engine.js";
import { builtinRuleGroups } from "../rules/builtin.js";
import { RuleManager } from "../rules/manager.js";
import { loadRuleFile, type RuleGroup } from "../rules/rule-file.js";
import { type SimFleet, startSimFleet } from "../sim/fleet.js";
import type { RunningLoad } from "../sim/load.js";
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
  /** Rule files in Prometheus's format, evaluated besides the built-in rules. */
  ruleFiles?: readonly string[];
  /** The built-in TTFT/TPOT quantile rules (default on). */
  builtinRules?: boolean;
  /** Evaluation interval of groups that do not set one, in ms (default 60 s). */
  ruleIntervalMs?: number;
  /** Runs the metering gateway with this config file. */
  gatewayConfig?: string;
  /** host:port of the gateway (default 127.0.0.1:9301). */
  gatewayListen?: string;
  /** Gateway flush interval in ms, overriding the config file's. */
  gatewayFlushMs?: number;
  /** Runs a simulated fleet behind the gateway with its load (the demo). */
  simFleet?: boolean;
  /** The built metrics page (default: web/dist of this checkout). */
  webRoot?: string;
  /** Scrapes vLLM-style /metrics targets listed in this config file. */
  scrapeConfig?: string;
  /**
   * Keeps tokens in this PostgreSQL database (shared by API replicas; the schema is created or
   * brought up to date) and evaluates the rules only while holding the leader lease there.
   * Without it, tokens live in the embedded metadata database and this node evaluates alone.
   */
  postgresUrl?: string;
}

export interface RunningService {
  /** e.g. http://127.0.0.1:9300 */
  url: string;
  adminKey: AdminKey;
  db: Tsdb;
  tokens: TokenRepository;
  ingestTokens: TokenRepository;
  app: FastifyInstance;
  rules: RuleManager;
  gateway?: Gateway;
  scraper?: Scraper;
  fleet?: SimFleet;
  load?: RunningLoad;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535)
    throw new Error(`invalid --listen ${JSON.stringify(listen)}: use HOST:PORT`);
  const host = m[1].replace(/^\[(.*)\]$/, "$1") || "0.0.0.0";
  return { host, port: Number(m[2]) };
}

function loopbackUrl(address: string, host: string): string {
  return host === "0.0.0.0" || host === "::"
    ? address.replace(/\/\/[^:/]+|\/\/\[[^\]]+\]/, "//127.0.0.1")
    : address;
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
  // Read every config file before opening anything, so a typo fails fast and touches nothing.
  const ruleInterval = cfg.ruleIntervalMs ?? 60_000;
  const groups: RuleGroup[] = [
    ...(cfg.builtinRules === false ? [] : builtinRuleGroups(ruleInterval)),
    ...(cfg.ruleFiles ?? []).flatMap((f) => loadRuleFile(f, ruleInterval)),
  ];
  const gatewayFile: GatewayConfig | undefined = cfg.gatewayConfig
    ? loadGatewayConfig(cfg.gatewayConfig)
    : undefined;
  const scrapeFile: ScrapeConfig | undefined = cfg.scrapeConfig
    ? loadScrapeConfig(cfg.scrapeConfig)
    : undefined;

  const db = Tsdb.open({
    dir: dataDir,
    retentionMs: cfg.retentionMs,
    sync: cfg.sync,
    maxDiskBytes: cfg.maxDiskBytes,
    log: (m) => logger.info({ component: "tsdb" }, m),
  });
  const meta = openMetaDb(dataDir);
  // Stopped in reverse order of starting.
  const closers: Array<() => Promise<void> | void> = [() => db.close(), () => meta.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error({ err }, "error while stopping");
      }
    }
    closers.length = 0;
    logger.flush();
  };
  try {
    const repos = await openTokenRepositories({
      postgresUrl: cfg.postgresUrl,
      metaDb: meta,
      log: (fields, message) => logger.info({ component: "tokens", ...fields }, message),
    });
    closers.push(() => repos.close());
    const { tokens, ingestTokens } = repos;
    const engine = { lookbackDeltaMs: cfg.lookbackDeltaMs };
    const rules = new RuleManager({
      groups,
      storage: db,
      engine: newEngine({
        ...engine,
        timeoutMs: cfg.limits.queryTimeoutMs,
        maxSamples: cfg.limits.maxSamples,
      }),
      leadership: repos.rulesLeadership,
      log: (fields, message) => logger.warn({ component: "rules", ...fields }, message),
    });
    const adminKey = loadOrCreateAdminKey(dataDir, cfg.adminKeyFromEnv);
    const app = await buildApiServer({
      storage: db,
      writable: db,
      tokens,
      ingestTokens,
      adminKey: adminKey.value,
      limits: cfg.limits,
      engine,
      logger,
      rules: () => ({ groups: rules.groups, health: rules.health() }),
      webRoot: cfg.webRoot ?? fileURLToPath(new URL("../../web/dist", import.meta.url)),
    });
    const url = loopbackUrl(await app.listen({ host, port }), host);
    closers.push(() => app.close());
    await repos.start();
    rules.start();
    closers.push(() => rules.stop());

    const running: RunningService = {
      url,
      adminKey,
      db,
      tokens,
      ingestTokens,
      app,
      rules,
      close: closeAll,
    };
    let gatewayConfig = gatewayFile;
    if (cfg.simFleet) {
      const fleet = await startSimFleet();
      closers.push(() => fleet.close(2_000));
      running.fleet = fleet;
      gatewayConfig ??= parseGatewayConfig(fleet.gatewayConfig, "the simulated fleet");
    }
    if (gatewayConfig) {
      const gateway = await startGateway({
        config: gatewayConfig,
        appendable: db,
        listen: cfg.gatewayListen ?? "127.0.0.1:9301",
        flushIntervalMs: cfg.gatewayFlushMs,
        log: (m) => logger.info({ component: "gateway" }, m),
      });
      closers.push(() => gateway.close());
      running.gateway = gateway;
    }
    if (scrapeFile) {
      const scraper = startScraper({
        config: scrapeFile,
        appendable: db,
        log: logger.child({ component: "scrape" }),
      });
      closers.push(() => scraper.close());
      running.scraper = scraper;
    }
    if (running.fleet && running.gateway) {
      // The load is stopped before the gateway (closers run in reverse), so its last requests are metered.
      running.load = running.fleet.startLoad(running.gateway.url);
      const load = running.load;
      closers.push(() => load.stop(2_000));
    }
    return running;
  } catch (err) {
    await closeAll();
    throw err;
  }
}
