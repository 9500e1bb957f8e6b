/**
 * A real PostgreSQL for tests, started on loopback in a temp directory and removed afterwards:
 * initdb (trust auth, C locale, no fsync) and `postgres -D dir -k dir -h 127.0.0.1 -p <free port>`.
 * As root (CI), both run as the `postgres` user through runuser, with the directory owned by it.
 * Binaries: $PG_BIN, else the newest /usr/lib/postgresql/<ver>/bin, else initdb/postgres on PATH.
 * Where they are missing the tests skip, except under CI=true, where they fail.
 *
 * Also a TCP proxy between a client and the server that can be "cut" like a network partition:
 * nothing passes and nothing is refused, so a client only ever sees timeouts.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";

export interface PgBinaries {
  initdb: string;
  postgres: string;
  /** The user to run them as when we are root. */
  runAs?: { name: string; uid: number; gid: number };
}

function versionOf(dir: string): number {
  return Number.parseFloat(dir) || 0;
}

function which(cmd: string): string | null {
  const r = spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Finds the binaries, or says why they cannot be used. */
export function findPostgres(): PgBinaries | { missing: string } {
  const dirs: string[] = [];
  if (process.env.PG_BIN) dirs.push(process.env.PG_BIN);
  if (existsSync("/usr/lib/postgresql")) {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => versionOf(b) - versionOf(a));
    for (const v of versions) dirs.push(join("/usr/lib/postgresql", v, "bin"));
  }
  let found: { initdb: string; postgres: string } | null = null;
  for (const d of dirs) {
    if (existsSync(join(d, "initdb")) && existsSync(join(d, "postgres"))) {
      found = { initdb: join(d, "initdb"), postgres: join(d, "postgres") };
      break;
    }
  }
  if (!found) {
    const initdb = which("initdb");
    const postgres = which("postgres");
    if (initdb && postgres) found = { initdb, postgres };
  }
  if (!found) return { missing: "PostgreSQL server binaries not found (apt-get install postgresql)" };
  if (process.getuid?.() !== 0) return found;
  // PostgreSQL refuses to run as root: run it as the postgres user.
  const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0 || !which("runuser")) {
    return { missing: "running as root and there is no postgres user (or no runuser) to run PostgreSQL as" };
  }
  return {
    ...found,
    runAs: { name: "postgres", uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) },
  };
}

/** For describe(…, { skip }): a reason to skip locally, or false (also under CI=true, so a missing server fails). */
export function postgresSkip(): string | false {
  const found = findPostgres();
  if (!("missing" in found)) return false;
  return process.env.CI === "true" ? false : found.missing;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

export interface PgServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  dir: string;
  /** A URL whose connections use their own schema (created here), for isolated tests. */
  schemaUrl(schema: string): Promise<string>;
  /** Stops the server (fast shutdown) but keeps its data, to simulate an outage. */
  stopServer(): Promise<void>;
  /** Starts it again on the same port and data. */
  startServer(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

function command(bin: PgBinaries, exe: string, args: string[]): [string, string[]] {
  return bin.runAs ? ["runuser", ["-u", bin.runAs.name, "--", exe, ...args]] : [exe, args];
}

export async function startPostgres(): Promise<PgServer> {
  const bin = findPostgres();
  if ("missing" in bin) throw new Error(bin.missing);
  const dir = mkdtempSync(join(tmpdir(), "mim-pg-"));
  if (bin.runAs) chownSync(dir, bin.runAs.uid, bin.runAs.gid);
  const [initCmd, initArgs] = command(bin, bin.initdb, [
    "-D",
    dir,
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
  ]);
  const init = spawnSync(initCmd, initArgs, { encoding: "utf8" });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | null = null;
  let output = "";

  const postmasterPid = (): number | null => {
    try {
      return Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0]) || null;
    } catch {
      return null;
    }
  };

  const startServer = async () => {
    const [cmd, args] = command(bin, bin.postgres, [
      "-D",
      dir,
      "-k",
      dir,
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-F",
      "-c",
      "max_connections=200",
      "-c",
      "shared_buffers=32MB",
    ]);
    const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    output = "";
    c.stdout?.on("data", (d) => {
      output += d;
    });
    c.stderr?.on("data", (d) => {
      output += d;
    });
    let exited = false;
    c.on("exit", () => {
      exited = true;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (exited) throw new Error(`postgres exited while starting:\n${output}`);
      const client = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
      try {
        await client.connect();
        await client.query("SELECT 1");
        await client.end();
        return;
      } catch {
        await client.end().catch(() => {});
      }
      if (Date.now() > deadline) throw new Error(`postgres did not start in 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const stopServer = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    // Signal the postmaster itself (runuser, when used, waits for it): SIGINT = fast shutdown.
    const pid = postmasterPid() ?? c.pid;
    if (pid) process.kill(pid, "SIGINT");
    const timer = setTimeout(() => {
      const p = postmasterPid() ?? c.pid;
      if (p) process.kill(p, "SIGQUIT");
    }, 10_000);
    await exited;
    clearTimeout(timer);
    child = null;
  };

  // If the test process dies without cleaning up, do not leave a server running.
  const onExit = () => {
    const c = child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const pid = postmasterPid() ?? c.pid;
      if (pid) {
        try {
          process.kill(pid, "SIGQUIT");
        } catch {}
      }
    }
  };
  process.once("exit", onExit);

  try {
    await startServer();
  } catch (err) {
    await stopServer().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    url,
    port,
    dir,
    async schemaUrl(schema: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`bad schema name ${schema}`);
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } finally {
        await client.end();
      }
      return `${url}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    },
    stopServer,
    startServer,
    async destroy() {
      await stopServer();
      process.removeListener("exit", onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TcpProxy {
  port: number;
  /** From now on nothing passes either way and new connections hang: a network partition. */
  cut(): void;
  /** Ends the partition: connections caught in it are reset, new ones pass. */
  heal(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  let partitioned = false;
  const pairs = new Set<{ client: Socket; upstream: Socket | null; dead: boolean }>();
  const server = createServer((client) => {
    const pair: { client: Socket; upstream: Socket | null; dead: boolean } = {
      client,
      upstream: null,
      dead: partitioned,
    };
    pairs.add(pair);
    client.on("error", () => {});
    client.on("close", () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    if (pair.dead) return; // accepted, never answered
    const up = new Socket();
    pair.upstream = up;
    up.on("error", () => client.destroy());
    up.on("close", () => client.destroy());
    up.connect(targetPort, targetHost);
    client.on("data", (d: Buffer) => {
      if (!pair.dead) up.write(d);
    });
    up.on("data", (d: Buffer) => {
      if (!pair.dead) client.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    port,
    cut() {
      partitioned = true;
      for (const p of pairs) p.dead = true;
    },
    heal() {
      partitioned = false;
      for (const p of pairs) {
        if (p.dead) {
          p.client.destroy();
          p.upstream?.destroy();
        }
      }
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
