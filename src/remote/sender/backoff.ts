/**
 * Retry delays and a sleep that a stop signal cuts short.
 */

/**
 * Delay before retry number `attempt` (0 for the first retry): min·2^attempt capped at max, then
 * "equal jitter" — a uniform pick in [d/2, d] — so shards and replicas that failed together do
 * not retry in lockstep, while the delay still grows.
 */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 52));
  return d / 2 + random() * (d / 2);
}

/**
 * A Retry-After header in ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent
 * or unreadable. Clamped to [0, maxMs].
 */
export function parseRetryAfter(value: string | null, now: number, maxMs: number): number | null {
  if (value === null) return null;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(maxMs, Math.max(0, ms));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
