#!/usr/bin/env node
/**
 * `mim`: the operator's binary. Today it runs the embedded store (`serve`) and inspects a data
 * directory (`inspect`); the query API, ingestion and the demo arrive in later releases.
 */
import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import type { SyncMode } from "../tsdb/sqlite-store.js";
import { Tsdb } from "../tsdb/tsdb.js";
import { formatDurationMs, parseDurationMs } from "./duration.js";

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

interface StoreFlags {
  dataDir: string;
  retention: number;
  sync: SyncMode;
  maxDiskSize: number;
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

storeOptions(
  program.command("serve").description("run the embedded time-series store until interrupted"),
).action((flags: StoreFlags) => {
  const log = (m: string) => console.log(m);
  const db = openStore(flags, log);
  const st = db.stats();
  console.log(
    `mim: embedded store ready in ${resolve(flags.dataDir)}: ${st.series} series, retention ${formatDurationMs(flags.retention)}, sync ${flags.sync}.`,
  );
  console.log(
    "mim: this release has the store only; the query API, ingestion and demo fleet are not built yet.",
  );
  console.log("mim: press Ctrl-C to stop (the store checkpoints on the way out).");
  const stop = (signal: string) => {
    console.log(`mim: ${signal}: closing the store`);
    db.close();
    process.exit(0);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  // Keep the process alive; the store's maintenance timer is unref'd on purpose.
  setInterval(() => {}, 1 << 30);
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
