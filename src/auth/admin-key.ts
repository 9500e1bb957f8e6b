/**
 * The admin key guards the token admin API. It comes from MIM_ADMIN_KEY, or is generated once
 * into the data directory (mode 0600) and reused on later starts.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ADMIN_KEY_PREFIX = "mim_adm_";
export const ADMIN_KEY_FILE = "admin.key";

export interface AdminKey {
  value: string;
  /** Where it came from: "env", or the file it was read from or written to. */
  source: string;
  generated: boolean;
}

export function loadOrCreateAdminKey(dataDir: string, fromEnv: string | undefined): AdminKey {
  if (fromEnv !== undefined && fromEnv !== "") {
    if (fromEnv.length < 16) throw new Error("MIM_ADMIN_KEY must be at least 16 characters long");
    return { value: fromEnv, source: "env", generated: false };
  }
  const file = join(dataDir, ADMIN_KEY_FILE);
  if (existsSync(file)) {
    const value = readFileSync(file, "utf8").trim();
    if (value.length < 16)
      throw new Error(`${file}: admin key is too short; delete the file to regenerate it`);
    return { value, source: file, generated: false };
  }
  const value = ADMIN_KEY_PREFIX + randomBytes(32).toString("base64url");
  writeFileSync(file, `${value}\n`, { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600);
  return { value, source: file, generated: true };
}

/** Compares a presented key with the real one in time independent of where they differ. */
export function adminKeyMatches(expected: string, presented: string): boolean {
  const a = createHash("sha256").update(expected).digest();
  const b = createHash("sha256").update(presented).digest();
  return timingSafeEqual(a, b);
}
