#!/usr/bin/env node
/**
 * `mim`: the operator's binary. `serve` runs the embedded store and the query API; `inspect`
 * reports on a data directory. Every serve flag can also come from MIM_* environment variables or
 * a JSON config file (`--config`), in that order of precedence after the command line.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_LIMITS } from "../api/context.js";
import { TIMESERIES_PREFIX } from "../api/server.js";
import type { SyncMode } from "../tsdb/sqlite-store.js";
import { Tsdb } from "../tsdb/tsdb.js";
import { cliConfigPath, readCliConfig, updateCliConfig } from "./cli-config.js";
import { formatDurationMs, parseDurationMs } from "../config/duration.js";
import { startService } from "./service.js";

function duration(value: string): number {
  try {
    return parseDurationMs(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function byteSize(value: string): number {
  const m = /^(\d+)(B|KiB|MiB|GiB|TiB)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`invalid size ${JSON.stringify(value)}: use e.g. 500MiB, 20GiB`);
  const mult = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[m[2] ?? "B"] ?? 1;
  return Number(m[1]) * mult;
}

function count(value: string): number {
  if (!/^\d+$/.test(value.trim()))
    throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function rate(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`expected a non-negative number, got ${JSON.stringify(value)}`);
  }
  return n;
}

interface StoreFlags {
  dataDir: string;
  retention: number;
  sync: SyncMode;
  maxDiskSize: number;
}

interface ServeFlags extends StoreFlags {
  config?: string;
  listen: string;
  lookbackDelta: number;
  queryTimeout: number;
  queryMaxSamples: number;
  queryMaxSeries: number;
  queryMaxPoints: number;
  maxBodySize: number;
  rateLimit: number;
  rateLimitBurst: number;
  logLevel: string;
  cliConfig: boolean;
  demoProject?: string;
}

function storeOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--data-dir <dir>", "where the embedded store keeps its files")
        .env("MIM_DATA_DIR")
        .default("data"),
    )
    .addOption(
      new Option("--retention <duration>", "how long samples are kept (deleted in whole days)")
        .env("MIM_RETENTION")
        .argParser(duration)
        .default(parseDurationMs("15d"), "15d"),
    )
    .addOption(
      new Option(
        "--sync <mode>",
        "normal: commits survive a process crash; full: also a power loss (fsync per commit)",
      )
        .env("MIM_SYNC")
        .choices(["normal", "full"])
        .default("normal"),
    )
    .addOption(
      new Option(
        "--max-disk-size <size>",
        "refuse writes past this database size, as a full disk would (0 = no cap)",
      )
        .env("MIM_MAX_DISK_SIZE")
        .argParser(byteSize)
        .default(0, "0"),
    );
}

function serveOptions(cmd: Command): Command {
  const L = DEFAULT_LIMITS;
  return storeOptions(cmd)
    .addOption(
      new Option("--config <file>", 'JSON file of flag values, e.g. {"listen": "0.0.0.0:9300"}').env(
        "MIM_CONFIG",
      ),
    )
    .addOption(
      new Option("--listen <host:port>", "address of the HTTP API")
        .env("MIM_LISTEN")
        .default("127.0.0.1:9300"),
    )
    .addOption(
      new Option("--lookback-delta <duration>", "how far back an instant selector looks for a sample")
        .env("MIM_LOOKBACK_DELTA")
        .argParser(duration)
        .default(5 * 60_000, "5m"),
    )
    .addOption(
      new Option("--query-timeout <duration>", "longest a query may run")
        .env("MIM_QUERY_TIMEOUT")
        .argParser(duration)
        .default(L.queryTimeoutMs, "2m"),
    )
    .addOption(
      new Option("--query-max-samples <n>", "most samples a query may hold in memory at once")
        .env("MIM_QUERY_MAX_SAMPLES")
        .argParser(count)
        .default(L.maxSamples),
    )
    .addOption(
      new Option("--query-max-series <n>", "most series a query, /series or a look-up may return")
        .env("MIM_QUERY_MAX_SERIES")
        .argParser(count)
        .default(L.maxSeries),
    )
    .addOption(
      new Option("--query-max-points <n>", "most points per series in a range query")
        .env("MIM_QUERY_MAX_POINTS")
        .argParser(count)
        .default(L.maxPointsPerSeries),
    )
    .addOption(
      new Option("--max-body-size <size>", "largest request body")
        .env("MIM_MAX_BODY_SIZE")
        .argParser(byteSize)
        .default(L.maxBodyBytes, "1MiB"),
    )
    .addOption(
      new Option("--rate-limit <per-second>", "sustained requests per second per token (0 = no limit)")
        .env("MIM_RATE_LIMIT")
        .argParser(rate)
        .default(L.rateLimitPerSecond),
    )
    .addOption(
      new Option("--rate-limit-burst <n>", "requests a token may make at once above the rate")
        .env("MIM_RATE_LIMIT_BURST")
        .argParser(count)
        .default(L.rateLimitBurst),
    )
    .addOption(
      new Option("--log-level <level>", "pino log level")
        .env("MIM_LOG_LEVEL")
        .choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
        .default("info"),
    )
    .addOption(
      new Option(
        "--no-cli-config",
        "do not write the endpoint and admin key into the local crusoe CLI config",
      ),
    )
    .addOption(
      new Option(
        "--demo-project <id>",
        "create a monitoring token for this project at start and print how to use it",
      ).env("MIM_DEMO_PROJECT"),
    );
}

/** Applies a JSON config file's values to options still at their defaults (flags and env win). */
function applyConfigFile(cmd: Command, file: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`--config ${file}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(`--config ${file}: expected a JSON object of flag names to values`);
  }
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const opt = cmd.options.find((o) => o.long === `--${key}` || o.attributeName() === key);
    if (!opt || key === "config") {
      throw new Error(`--config ${file}: unknown setting ${JSON.stringify(key)}`);
    }
    const attr = opt.attributeName();
    if (cmd.getOptionValueSource(attr) !== "default" && cmd.getOptionValueSource(attr) !== undefined)
      continue;
    let v: unknown = value;
    if (opt.parseArg && typeof value !== "boolean") {
      try {
        v = opt.parseArg(String(value), undefined);
      } catch (err) {
        throw new Error(`--config ${file}: ${key}: ${(err as Error).message}`);
      }
    }
    if (opt.argChoices && !opt.argChoices.includes(String(v))) {
      throw new Error(`--config ${file}: ${key} must be one of ${opt.argChoices.join(", ")}`);
    }
    cmd.setOptionValueWithSource(attr, v, "config");
  }
}

function openStore(flags: StoreFlags, log: (m: string) => void): Tsdb {
  return Tsdb.open({
    dir: resolve(flags.dataDir),
    retentionMs: flags.retention,
    sync: flags.sync,
    maxDiskBytes: flags.maxDiskSize,
    log,
  });
}

const program = new Command("mim")
  .description("Managed Inference Metrics: operator commands")
  .showHelpAfterError();

serveOptions(
  program.command("serve").description("run the embedded store and the query API until interrupted"),
).action(async (_flags: ServeFlags, cmd: Command) => {
  const initial = cmd.opts<ServeFlags>();
  if (initial.config) applyConfigFile(cmd, initial.config);
  const flags = cmd.opts<ServeFlags>();
  const service = await startService({
    dataDir: flags.dataDir,
    listen: flags.listen,
    retentionMs: flags.retention,
    sync: flags.sync,
    maxDiskBytes: flags.maxDiskSize,
    lookbackDeltaMs: flags.lookbackDelta,
    logLevel: flags.logLevel,
    adminKeyFromEnv: process.env.MIM_ADMIN_KEY,
    limits: {
      queryTimeoutMs: flags.queryTimeout,
      maxSamples: flags.queryMaxSamples,
      maxSeries: flags.queryMaxSeries,
      maxPointsPerSeries: flags.queryMaxPoints,
      maxBodyBytes: flags.maxBodySize,
      rateLimitPerSecond: flags.rateLimit,
      rateLimitBurst: flags.rateLimitBurst,
    },
  });
  const say = (m: string) => process.stderr.write(`${m}\n`);
  const st = service.db.stats();
  say(
    `mim: serving ${service.url} from ${resolve(flags.dataDir)} (${st.series} series, retention ${formatDurationMs(flags.retention)}).`,
  );
  if (service.adminKey.generated)
    say(`mim: generated an admin key into ${service.adminKey.source} (mode 0600).`);
  if (flags.cliConfig && service.adminKey.source !== "env") {
    const path = cliConfigPath();
    const keepProject = readCliConfig(path).project;
    updateCliConfig(path, {
      endpoint: service.url,
      admin_key: service.adminKey.value,
      ...(keepProject === undefined && flags.demoProject ? { project: flags.demoProject } : {}),
    });
    say(`mim: the crusoe CLI on this machine is configured (${path}).`);
  }
  if (flags.demoProject) {
    const { token } = service.tokens.create(flags.demoProject, "demo", null);
    const base = service.url + TIMESERIES_PREFIX.replace(":projectId", flags.demoProject);
    say(`mim: demo project ${flags.demoProject}; a new monitoring token for it (shown once):`);
    say(`  ${token}`);
    say("mim: the page's curl example, ready to paste:");
    say(`  curl -G ${base}\\?query=crusoe_inference_first_token_latency -H 'Authorization: Bearer ${token}'`);
  }
  say("mim: press Ctrl-C to stop (the store checkpoints on the way out).");
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`mim: ${signal}: stopping`);
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        say(`mim: error while stopping: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
});

storeOptions(
  program.command("inspect").description("open a data directory, report recovery and contents, and exit"),
).action((flags: StoreFlags) => {
  const db = openStore(flags, (m) => console.error(m));
  const q = db.querier(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  console.log(
    JSON.stringify(
      { recovery: db.recovery, stats: db.stats(), metrics: q.labelValues("__name__").length },
      null,
      2,
    ),
  );
  db.close();
});

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`mim: ${(err as Error).message}`);
  process.exit(1);
});
