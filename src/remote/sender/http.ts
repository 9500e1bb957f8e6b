/**
 * One remote-write attempt and what to do about its answer, as remote-write 1.0 specifies for
 * senders: 2xx delivered; 5xx and 429 retry (the engine may take it later); any other status is a
 * refusal that retrying cannot change, so the batch is dropped; a network error or timeout
 * retries.
 */
import { parseRetryAfter } from "./backoff.js";

export type Outcome =
  | { kind: "delivered"; status: number }
  | { kind: "retry"; status: number | null; message: string; retryAfterMs: number | null }
  | { kind: "drop"; status: number; message: string };

export interface PostOptions {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  maxRetryAfterMs: number;
  /** Aborts the attempt when the storage stops. */
  signal: AbortSignal;
  now: () => number;
}

/** Engines explain refusals in the body; keep enough of it to act on, not a whole HTML page. */
const MAX_MESSAGE = 512;

export async function postWriteRequest(body: Uint8Array, o: PostOptions): Promise<Outcome> {
  // One controller per attempt, fed by the timeout and the stop signal (rather than
  // AbortSignal.any, whose dependent signals pile up on a long-lived source in some Node versions).
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, o.timeoutMs);
  const stop = () => ac.abort();
  o.signal.addEventListener("abort", stop, { once: true });
  if (o.signal.aborted) ac.abort();
  let res: Response;
  let text = "";
  try {
    try {
      res = await fetch(o.url, { method: "POST", headers: o.headers, body, signal: ac.signal });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = timedOut
        ? `no answer within ${o.timeoutMs} ms`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { kind: "retry", status: null, message: `request failed: ${why}`, retryAfterMs: null };
    }
    try {
      text = (await res.text()).trim().slice(0, MAX_MESSAGE);
    } catch {
      // The status decides; a body cut short only costs the explanation.
    }
  } finally {
    clearTimeout(timer);
    o.signal.removeEventListener("abort", stop);
  }
  const status = res.status;
  if (status >= 200 && status < 300) return { kind: "delivered", status };
  const message = `HTTP ${status}${text ? `: ${text.replace(/\s+/g, " ")}` : ""}`;
  if (status >= 500 || status === 429) {
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"), o.now(), o.maxRetryAfterMs);
    return { kind: "retry", status, message, retryAfterMs };
  }
  return { kind: "drop", status, message };
}
