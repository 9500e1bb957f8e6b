/**
 * One timer for all streams of a server. Dozens of streams at a 12 ms TPOT are thousands of token
 * deadlines a second; a timer each would cost a timer-list entry and a callback per token. Instead
 * deadlines sit in a min-heap and a single setTimeout wakes for the earliest, firing everything due
 * within `slackMs` of it in one pass (when the loop is busy, several tokens of a stream come due at
 * once and the stream writes them in one go).
 *
 * Deadlines are absolute (performance.now() milliseconds), so a late wake-up delays one write but
 * never shifts the following ones: the time between a stream's first and last token stays what the
 * latency profile drew, which is what TPOT = (last − first) / (n − 1) measures.
 */

export interface ClockEntry {
  readonly at: number;
  cancelled: boolean;
}

/**
 * Where a TokenClock reads the time and sets its one timer: performance.now() and setTimeout,
 * unless a test steps a fake clock so that every token lands at a time it chose.
 */
export interface ClockSource {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(timer: unknown): void;
}

const REAL_TIME: ClockSource = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (t) => clearTimeout(t as NodeJS.Timeout),
};

interface Entry extends ClockEntry {
  fn: (now: number) => void;
  seq: number;
}

export class TokenClock {
  private heap: Entry[] = [];
  private timer: unknown;
  private timerAt = Number.POSITIVE_INFINITY;
  private seq = 0;

  /** @param slackMs deadlines this close to the wake-up fire in the same pass (timers are ms-grained). */
  constructor(
    readonly slackMs = 1,
    private readonly source: ClockSource = REAL_TIME,
  ) {}

  now(): number {
    return this.source.now();
  }

  /** Calls fn(now) at or just after `at`; cancel by setting the returned entry's `cancelled`. */
  at(at: number, fn: (now: number) => void): ClockEntry {
    const e: Entry = { at, fn, cancelled: false, seq: this.seq++ };
    this.push(e);
    this.arm();
    return e;
  }

  /** Number of pending (possibly cancelled) entries. */
  get size(): number {
    return this.heap.length;
  }

  /** Drops everything; pending callbacks never run. */
  clear(): void {
    for (const e of this.heap) e.cancelled = true;
    this.heap = [];
    if (this.timer !== undefined) this.source.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private arm(): void {
    const top = this.heap[0];
    if (!top) return;
    if (this.timer !== undefined && this.timerAt <= top.at) return;
    if (this.timer !== undefined) this.source.clearTimer(this.timer);
    this.timerAt = top.at;
    // setTimeout rounds down to whole ms and may fire a little early relative to performance.now();
    // fire() re-arms for anything not yet due, so rounding up here only saves a spurious wake-up.
    this.timer = this.source.setTimer(() => this.fire(), Math.max(0, Math.ceil(top.at - this.now())));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.now();
    // Entries scheduled by callbacks in this pass wait for the next pass, so one stream can't starve
    // the rest by rescheduling itself at a deadline already due.
    const due: Entry[] = [];
    while (this.heap.length > 0 && this.heap[0].at <= now + this.slackMs) due.push(this.pop());
    for (const e of due) {
      if (e.cancelled) continue;
      e.cancelled = true;
      e.fn(now);
    }
    this.arm();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
