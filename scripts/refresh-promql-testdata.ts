/**
 * Replaces the vendored Prometheus PromQL test scripts (test/promql/testdata/prometheus) with the
 * `.test` files of another upstream version, and records that version in the directory's NOTICE
 * and README. The files are copied byte for byte; upstream's licence stays beside them.
 *
 *   npm run refresh:promql-testdata -- --from <dir> --version <tag> --commit <sha>
 *
 * <dir> is `promql/promqltest/testdata` of a Prometheus checkout (this machine has no internet, so
 * the script never downloads). Prints every file added, changed or removed; exits 2 on bad options.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const VENDORED = join(ROOT, "test/promql/testdata/prometheus");
const USAGE = "usage: npm run refresh:promql-testdata -- --from <dir> --version <tag> --commit <40-hex sha>";

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".test"))
    .sort();
}

/** Rewrites the one line that names the upstream version in NOTICE and README. */
function recordVersion(file: string, pattern: RegExp, replacement: string): void {
  const text = readFileSync(file, "utf8");
  if (!pattern.test(text)) throw new Error(`${file}: no version line matching ${pattern}`);
  writeFileSync(file, text.replace(pattern, replacement));
}

function main(): number {
  let values: { from?: string; version?: string; commit?: string };
  try {
    ({ values } = parseArgs({
      options: { from: { type: "string" }, version: { type: "string" }, commit: { type: "string" } },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { from, version, commit } = values;
  if (from === undefined || version === undefined || commit === undefined) {
    process.stderr.write(`--from, --version and --commit are all required\n${USAGE}\n`);
    return 2;
  }
  if (!/^v\d+\.\d+\.\d+$/.test(version) || !/^[0-9a-f]{40}$/.test(commit)) {
    process.stderr.write(`--version must look like v3.5.5 and --commit be 40 hex digits\n${USAGE}\n`);
    return 2;
  }
  const source = resolve(from);
  if (!existsSync(source) || testFiles(source).length === 0) {
    process.stderr.write(`no .test files in ${source}\n`);
    return 2;
  }

  const incoming = testFiles(source);
  for (const file of testFiles(VENDORED)) {
    if (!incoming.includes(file)) {
      rmSync(join(VENDORED, file));
      process.stdout.write(`removed  ${file}\n`);
    }
  }
  for (const file of incoming) {
    const bytes = readFileSync(join(source, file));
    const target = join(VENDORED, file);
    const before = existsSync(target) ? readFileSync(target) : undefined;
    if (before?.equals(bytes)) continue;
    writeFileSync(target, bytes);
    process.stdout.write(`${before === undefined ? "added   " : "changed "} ${file}\n`);
  }

  recordVersion(
    join(VENDORED, "NOTICE"),
    /^tag v\d+\.\d+\.\d+ \(commit [0-9a-f]{40}.*$/m,
    `tag ${version} (commit ${commit}).`,
  );
  recordVersion(
    join(VENDORED, "README.md"),
    /tag `v\d+\.\d+\.\d+`\n {2}\(commit `[0-9a-f]{40}`\)/,
    `tag \`${version}\`\n  (commit \`${commit}\`)`,
  );
  process.stdout.write(
    `vendored ${incoming.length} scripts of Prometheus ${version}; now run npm run conformance\n`,
  );
  return 0;
}

process.exitCode = main();
