/**
 * `mim serve` as a child process, the way operators run it: started with flags, ready once its
 * banner has printed the URL and the Ctrl-C line, stopped with a signal. Used by the CLI and crash
 * tests and by the remote-write benchmark.
 */
import { type ChildProcess, spawn } from "node:child_process";

export interface MimProcess {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Everything it printed on stderr so far (the banner). */
  stderr: () => string;
  /** SIGTERM (or the given signal); resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnMimServe(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  nodeFlags: readonly string[] = [],
): Promise<MimProcess> {
  const child = spawn(
    process.execPath,
    [...nodeFlags, "--import", "tsx", "src/cli/mim.ts", "serve", ...args],
    {
      env,
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr?.on("data", (d: Buffer) => {
      err += String(d);
      const m = /serving (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m && err.includes("press Ctrl-C")) {
        resolve({
          child,
          url: m[1],
          stderr: () => err,
          stop(signal = "SIGTERM") {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.once("exit", (code) => reject(new Error(`mim serve exited with ${code}: ${err}`)));
  });
}
