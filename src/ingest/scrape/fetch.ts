/**
 * One HTTP GET of a target's metrics page, the way Prometheus asks for it: OpenMetrics preferred,
 * the 0.0.4 text format accepted, a deadline, and a cap on the body so a runaway endpoint cannot
 * fill the service's memory.
 */
import { readFile } from "node:fs/promises";
import type { ScrapeTarget } from "./config.js";
import type { ExpositionFormat } from "./exposition.js";

/** Prometheus's own Accept header for text scrapes. */
export const ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

export class ScrapeError extends Error {
  override readonly name = "ScrapeError";
}

export interface FetchedPage {
  text: string;
  format: ExpositionFormat;
  bytes: number;
}

/**
 * The format a Content-Type names. A missing type is taken as the 0.0.4 text format (what plain
 * `/metrics` handlers mean); anything that is not text is refused rather than guessed at.
 */
export function formatForContentType(contentType: string | null): ExpositionFormat {
  const media = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (media === "application/openmetrics-text") return "openmetrics";
  if (media === "" || media === "text/plain") return "prometheus-text";
  throw new ScrapeError(`unsupported Content-Type ${JSON.stringify(contentType)}`);
}

async function authorization(target: ScrapeTarget): Promise<string | undefined> {
  if (target.bearerToken !== undefined) return `Bearer ${target.bearerToken}`;
  if (target.bearerTokenFile === undefined) return undefined;
  try {
    return `Bearer ${(await readFile(target.bearerTokenFile, "utf8")).trim()}`;
  } catch (err) {
    throw new ScrapeError(`cannot read bearer_token_file: ${(err as Error).message}`);
  }
}

/** Fetches the page; throws ScrapeError (HTTP status, timeout, body too large, not UTF-8, …). */
export async function fetchPage(target: ScrapeTarget, stop: AbortSignal): Promise<FetchedPage> {
  const headers: Record<string, string> = {
    Accept: ACCEPT,
    "User-Agent": "mim-scraper/0.1",
    "X-Prometheus-Scrape-Timeout-Seconds": String(target.timeoutMs / 1000),
    ...target.headers,
  };
  const auth = await authorization(target);
  if (auth !== undefined) headers.Authorization = auth;
  const timeout = AbortSignal.timeout(target.timeoutMs);
  const signal = AbortSignal.any([stop, timeout]);
  let res: Response;
  try {
    res = await fetch(target.url, { headers, signal, redirect: "follow" });
  } catch (err) {
    throw new ScrapeError(describeFailure(err, timeout, target));
  }
  try {
    if (res.status !== 200) {
      throw new ScrapeError(`server returned HTTP status ${res.status} ${res.statusText}`.trimEnd());
    }
    const format = formatForContentType(res.headers.get("content-type"));
    const body = await readCapped(res, target.maxBodyBytes);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(body);
    } catch {
      throw new ScrapeError("response body is not valid UTF-8");
    }
    return { text, format, bytes: body.byteLength };
  } catch (err) {
    // Let the connection go instead of leaving an unread body behind.
    await res.body?.cancel().catch(() => {});
    if (err instanceof ScrapeError) throw err;
    throw new ScrapeError(describeFailure(err, timeout, target));
  }
}

async function readCapped(res: Response, max: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > max) throw new ScrapeError(`body of ${declared} bytes exceeds max_body_bytes (${max})`);
  if (res.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new ScrapeError(`body exceeds max_body_bytes (${max})`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function describeFailure(err: unknown, timeout: AbortSignal, target: ScrapeTarget): string {
  if (timeout.aborted) return `timed out after ${target.timeoutMs} ms`;
  const e = err as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message}: ${cause}` : e.message;
}
