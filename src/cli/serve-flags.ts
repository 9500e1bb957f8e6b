/**
 * The flags of `mim serve` and `mim inspect`: their parsers, defaults, MIM_* variables and help,
 * the remote-storage settings checked together, and the JSON config file (`--config`) applied
 * under the command line and the environment.
 */
import { readFileSync } from "node:fs";
import { type Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_LIMITS } from "../api/context.js";
import { formatDurationMs, parseDurationMs } from "../config/duration.js";
import { DEFAULT_QUERY_MEMORY_MB } from "../exec/query-pool.js";
import type { RemoteStorageConfig } from "../modes/remote.js";
import type { SyncMode } from "../tsdb/sqlite-store.js";

export function duration(value: string): number {
  try {
    return parseDurationMs(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Node runs a timer longer than 2^31 − 1 ms (24.8 days) after 1 ms: such a timeout would end every query at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function timeout(value: string): number {
  const ms = duration(value);
  if (ms > MAX_TIMER_MS)
    throw new InvalidArgumentError(`${JSON.stringify(value)} is longer than the most a timer can wait (24d)`);
  if (ms <= 0) throw new InvalidArgumentError(`${JSON.stringify(value)}: a timeout must be longer than 0`);
  return ms;
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

function headerLine(value: string): string {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:\s*\S/.test(value)) {
    throw new InvalidArgumentError(`expected "Name: value", got ${JSON.stringify(value)}`);
  }
  return value;
}

/** The remote storage settings of `serve`, checked together (a URL without the mode is a mistake). */
export function remoteConfig(flags: ServeFlags): RemoteStorageConfig | undefined {
  const given = [flags.remoteWriteUrl, flags.remoteQueryUrl].some((v) => v !== undefined);
  if (flags.storage !== "remote") {
    if (given) throw new Error("--remote-write-url and --remote-query-url need --storage remote");
    return undefined;
  }
  if (!flags.remoteWriteUrl || !flags.remoteQueryUrl) {
    throw new Error("--storage remote needs --remote-write-url and --remote-query-url");
  }
  const headers: Record<string, string> = {};
  for (const line of flags.remoteHeader) {
    const i = line.indexOf(":");
    headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  let bearerToken: string | undefined;
  if (flags.remoteBearerTokenFile) {
    try {
      bearerToken = readFileSync(flags.remoteBearerTokenFile, "utf8").trim();
    } catch (err) {
      throw new Error(`--remote-bearer-token-file: ${(err as Error).message}`);
    }
  }
  return {
    writeUrl: flags.remoteWriteUrl,
    queryUrl: flags.remoteQueryUrl,
    headers,
    bearerToken,
    tenantHeader: flags.remoteTenantHeader,
    shards: flags.remoteShards,
    maxQueueBytes: flags.remoteQueueSize,
    maxResponseBytes: flags.remoteMaxAnswerSize,
  };
}

export interface StoreFlags {
  dataDir: string;
  retention: number;
  sync: SyncMode;
  maxDiskSize: number;
}

export interface ServeFlags extends StoreFlags {
  config?: string;
  listen: string;
  lookbackDelta: number;
  queryTimeout: number;
  queryMaxSamples: number;
  queryMaxSeries: number;
  queryMaxPoints: number;
  queryWorkers: number;
  queryMaxMemory: number;
  queryConcurrency: number;
  queryConcurrencyPerProject: number;
  queryQueuePerProject: number;
  maxBodySize: number;
  rateLimit: number;
  rateLimitBurst: number;
  projectRateLimit: number;
  projectRateLimitBurst: number;
  authFailureLimit: number;
  authFailureBurst: number;
  tokenCreateRate: number;
  tokenCreateBurst: number;
  maxTokensPerProject: number;
  remoteWriteRate: number;
  ingestMaxFuture: number;
  ingestMaxLabelNameLength: number;
  ingestMaxLabelValueLength: number;
  ingestMaxLabelsPerSeries: number;
  ingestMaxSeriesPerProject: number;
  logLevel: string;
  cliConfig: boolean;
  demoProject?: string;
  demo: boolean;
  rules: string[];
  builtinRules: boolean;
  gatewayConfig?: string;
  gatewayListen: string;
  scrapeConfig?: string;
  postgresUrl?: string;
  storage: "embedded" | "remote";
  remoteWriteUrl?: string;
  remoteQueryUrl?: string;
  remoteBearerTokenFile?: string;
  remoteHeader: string[];
  remoteTenantHeader?: string;
  remoteShards: number;
  remoteQueueSize: number;
  remoteMaxAnswerSize: number;
}

export function storeOptions(cmd: Command): Command {
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

export function serveOptions(cmd: Command): Command {
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
      new Option(
        "--postgres-url <url>",
        "keep tokens in this PostgreSQL database (shared by API replicas) and evaluate the rules under a leader lease there",
      ).env("MIM_POSTGRES_URL"),
    )
    .addOption(
      new Option(
        "--storage <kind>",
        "embedded: this node's store; remote: remote-write to an engine and query its Prometheus API",
      )
        .env("MIM_STORAGE")
        .choices(["embedded", "remote"])
        .default("embedded"),
    )
    .addOption(
      new Option(
        "--remote-write-url <url>",
        "remote mode: the engine's remote-write endpoint, e.g. http://vminsert:8480/insert/0/prometheus/api/v1/write",
      ).env("MIM_REMOTE_WRITE_URL"),
    )
    .addOption(
      new Option(
        "--remote-query-url <url>",
        "remote mode: base of the engine's Prometheus API, e.g. http://vmselect:8481/select/0/prometheus",
      ).env("MIM_REMOTE_QUERY_URL"),
    )
    .addOption(
      new Option(
        "--remote-bearer-token-file <file>",
        "remote mode: send the token in this file to the engine as a bearer token",
      ).env("MIM_REMOTE_BEARER_TOKEN_FILE"),
    )
    .addOption(
      new Option("--remote-header <name: value>", "remote mode: an extra header to the engine (repeatable)")
        .argParser((v: string, prev: string[] = []) => [...prev, headerLine(v)])
        .default([]),
    )
    .addOption(
      new Option(
        "--remote-tenant-header <name>",
        "remote mode: tenant per project, the project id in this header (X-Scope-OrgID for Mimir/Cortex); {tenant} in the URLs works too",
      ).env("MIM_REMOTE_TENANT_HEADER"),
    )
    .addOption(
      new Option("--remote-shards <n>", "remote mode: concurrent remote-write senders")
        .env("MIM_REMOTE_SHARDS")
        .argParser(count)
        .default(4),
    )
    .addOption(
      new Option(
        "--remote-max-answer-size <size>",
        "remote mode: largest answer taken from the engine (parsed whole: bounds one query's memory and time)",
      )
        .env("MIM_REMOTE_MAX_ANSWER_SIZE")
        .argParser(byteSize)
        .default(64 * 1024 ** 2, "64MiB"),
    )
    .addOption(
      new Option("--remote-queue-size <size>", "remote mode: bound of the on-disk queue to the engine")
        .env("MIM_REMOTE_QUEUE_SIZE")
        .argParser(byteSize)
        .default(1024 ** 3, "1GiB"),
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
        .argParser(timeout)
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
      new Option("--query-workers <n>", "worker threads that evaluate queries (0 = one per core, at least 2)")
        .env("MIM_QUERY_WORKERS")
        .argParser(count)
        .default(0),
    )
    .addOption(
      new Option(
        "--query-max-memory <size>",
        "heap budget of one query (its worker's); past it the query fails",
      )
        .env("MIM_QUERY_MAX_MEMORY")
        .argParser(byteSize)
        .default(DEFAULT_QUERY_MEMORY_MB * 1024 ** 2, "1GiB"),
    )
    .addOption(
      new Option(
        "--query-concurrency <n>",
        "queries running at once over all projects (0 = the query workers)",
      )
        .env("MIM_QUERY_CONCURRENCY")
        .argParser(count)
        .default(L.queryConcurrency),
    )
    .addOption(
      new Option(
        "--query-concurrency-per-project <n>",
        "queries of one project running at once (0 = one less than the workers, at least 1)",
      )
        .env("MIM_QUERY_CONCURRENCY_PER_PROJECT")
        .argParser(count)
        .default(L.queryConcurrencyPerProject),
    )
    .addOption(
      new Option("--query-queue-per-project <n>", "queries of one project waiting to run; beyond it, 429")
        .env("MIM_QUERY_QUEUE_PER_PROJECT")
        .argParser(count)
        .default(L.queryQueuePerProject),
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
      new Option(
        "--project-rate-limit <per-second>",
        "sustained requests per second per project, all its tokens together (0 = no limit)",
      )
        .env("MIM_PROJECT_RATE_LIMIT")
        .argParser(rate)
        .default(L.projectRateLimitPerSecond),
    )
    .addOption(
      new Option("--project-rate-limit-burst <n>", "requests a project may make at once above its rate")
        .env("MIM_PROJECT_RATE_LIMIT_BURST")
        .argParser(count)
        .default(L.projectRateLimitBurst),
    )
    .addOption(
      new Option(
        "--auth-failure-limit <per-minute>",
        "failed authentications per minute per client address; past it the address gets 429 (0 = no limit)",
      )
        .env("MIM_AUTH_FAILURE_LIMIT")
        .argParser(rate)
        .default(L.authFailuresPerMinute),
    )
    .addOption(
      new Option("--auth-failure-burst <n>", "failed authentications an address may make at once")
        .env("MIM_AUTH_FAILURE_BURST")
        .argParser(count)
        .default(L.authFailureBurst),
    )
    .addOption(
      new Option(
        "--token-create-rate <per-minute>",
        "monitoring tokens a project's monitoring tokens may create per minute; the admin key is exempt (0 = no limit)",
      )
        .env("MIM_TOKEN_CREATE_RATE")
        .argParser(rate)
        .default(L.tokenCreatesPerMinute),
    )
    .addOption(
      new Option("--token-create-burst <n>", "monitoring tokens a project may create at once above the rate")
        .env("MIM_TOKEN_CREATE_BURST")
        .argParser(count)
        .default(L.tokenCreateBurst),
    )
    .addOption(
      new Option(
        "--max-tokens-per-project <n>",
        "most live monitoring (and ingest) tokens per project, the admin key's too (0 = no cap)",
      )
        .env("MIM_MAX_TOKENS_PER_PROJECT")
        .argParser(count)
        .default(L.maxTokensPerProject),
    )
    .addOption(
      new Option(
        "--remote-write-rate <samples-per-second>",
        "samples/s each ingest token may write (0 = no limit)",
      )
        .env("MIM_REMOTE_WRITE_RATE")
        .argParser(rate)
        .default(L.remoteWriteSamplesPerSecond),
    )
    .addOption(
      new Option(
        "--ingest-max-future <duration>",
        "newest a remote-written sample may be, past the server's clock (0 = no bound)",
      )
        .env("MIM_INGEST_MAX_FUTURE")
        .argParser(duration)
        .default(L.ingestMaxFutureMs, formatDurationMs(L.ingestMaxFutureMs)),
    )
    .addOption(
      new Option(
        "--ingest-max-label-name-length <n>",
        "longest label name a remote-written series may have (0 = no bound)",
      )
        .env("MIM_INGEST_MAX_LABEL_NAME_LENGTH")
        .argParser(count)
        .default(L.ingestMaxLabelNameLength),
    )
    .addOption(
      new Option(
        "--ingest-max-label-value-length <n>",
        "longest label value a remote-written series may have (0 = no bound)",
      )
        .env("MIM_INGEST_MAX_LABEL_VALUE_LENGTH")
        .argParser(count)
        .default(L.ingestMaxLabelValueLength),
    )
    .addOption(
      new Option(
        "--ingest-max-labels-per-series <n>",
        "most labels on a remote-written series, __name__ included (0 = no bound)",
      )
        .env("MIM_INGEST_MAX_LABELS_PER_SERIES")
        .argParser(count)
        .default(L.ingestMaxLabelsPerSeries),
    )
    .addOption(
      new Option(
        "--ingest-max-series-per-project <n>",
        "most series a project may have remote-written in the last 20 minutes; new ones past it are refused (0 = no cap)",
      )
        .env("MIM_INGEST_MAX_SERIES_PER_PROJECT")
        .argParser(count)
        .default(L.ingestMaxSeriesPerProject),
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
    )
    .addOption(
      new Option(
        "--demo",
        "run a simulated fleet (mock model servers and their load) behind the gateway; implies --demo-project demo",
      ).env("MIM_DEMO"),
    )
    .addOption(
      new Option("--rules <file...>", "recording rule files (Prometheus format), besides the built-in ones")
        .env("MIM_RULES")
        .default([]),
    )
    .addOption(new Option("--no-builtin-rules", "do not evaluate the built-in TTFT/TPOT quantile rules"))
    .addOption(
      new Option(
        "--gateway-config <file>",
        "run the metering gateway with this config (see docs/gateway.md)",
      ).env("MIM_GATEWAY_CONFIG"),
    )
    .addOption(
      new Option("--scrape-config <file>", "scrape vLLM-style /metrics targets (see docs/scraping.md)").env(
        "MIM_SCRAPE_CONFIG",
      ),
    )
    .addOption(
      new Option("--gateway-listen <host:port>", "address of the metering gateway")
        .env("MIM_GATEWAY_LISTEN")
        .default("127.0.0.1:9301"),
    );
}

/** Applies a JSON config file's values to options still at their defaults (flags and env win). */
export function applyConfigFile(cmd: Command, file: string): void {
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
      const parse = opt.parseArg;
      try {
        // A list (remote-header: ["A: 1", "B: 2"]) is folded as repeated flags would be.
        v = Array.isArray(value)
          ? value.reduce((acc: unknown, x) => parse(String(x), acc), undefined)
          : parse(String(value), undefined);
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
