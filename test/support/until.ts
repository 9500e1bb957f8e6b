/**
 * Waiting for a condition instead of sleeping a fixed time: a sleep is either too short on a busy
 * machine (the test flakes) or too long everywhere else. The timeout only turns a hang into a
 * failure, so it sits far above any expected wait.
 */
export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
