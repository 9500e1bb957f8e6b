/**
 * A time source that moves only when a test moves it, for code that takes a ClockSource (the
 * simulator's TokenClock): timers fire in due order as the test advances, each seeing now() equal
 * to its due time. What such a test asserts is then exact, however slow or busy the machine is.
 */
import type { ClockSource } from "../../src/sim/token-clock.js";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class FakeTime implements ClockSource {
  private t: number;
  private seq = 0;
  private readonly timers = new Set<Timer>();

  constructor(start = 1_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): unknown {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return timer;
  }

  clearTimer(timer: unknown): void {
    this.timers.delete(timer as Timer);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves to `until`, firing every timer due by then (those they set too) in due order. */
  advanceTo(until: number): void {
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.at > until) break;
      this.timers.delete(next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = Math.max(this.t, until);
  }

  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  /** Fires timers until none is left; returns how many fired. */
  runAll(limit = 1_000_000): number {
    let n = 0;
    for (let next = this.earliest(); next !== undefined; next = this.earliest()) {
      if (++n > limit) throw new Error(`more than ${limit} timers: one keeps rescheduling itself`);
      this.timers.delete(next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    return n;
  }

  private earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const x of this.timers) {
      if (best === undefined || x.at < best.at || (x.at === best.at && x.seq < best.seq)) best = x;
    }
    return best;
  }
}
