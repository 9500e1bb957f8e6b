/**
 * One target's scrape loop: fetch, parse, map, then append every sample of the scrape in one
 * batch with the scrape's timestamp and commit it. Staleness follows Prometheus: a series that was
 * in the previous scrape and is not in this one gets a stale marker (StaleNaN) at this scrape's
 * time, and a failed scrape counts as an empty one, so a target that goes away stops showing up
 * in instant queries at once instead of lingering for the 5-minute lookback. Series with their
 * own exposed timestamps are left out of staleness tracking, as in Prometheus.
 */

import { SampleError } from "../../storage/errors.js";
import type { Appendable, SeriesRef } from "../../storage/interface.js";
import { type Labels, labelsKey } from "../../storage/labels.js";
import { StaleNaN } from "../../storage/value.js";
import type { ScrapeTarget } from "./config.js";
import { parseExposition } from "./exposition.js";
import { fetchPage } from "./fetch.js";
import { type DropReason, mapExposition } from "./mapping.js";

/** pino's call shape, so `logger.child({ component: "scrape" })` can be passed as is. */
export interface ScrapeLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface TargetStatus {
  name: string;
  url: string;
  project_id: string;
  service_tier: string;
  model_name: string | undefined;
  intervalMs: number;
  timeoutMs: number;
  /** Like Prometheus's `up`: "unknown" until the first scrape ends. */
  health: "up" | "down" | "unknown";
  /** Sample timestamp (ms) of the last scrape attempt. */
  lastScrape: number | null;
  lastScrapeDurationMs: number | null;
  /** Why the last scrape failed (fetch, parse or storage); null when it succeeded. */
  lastError: string | null;
  scrapes: number;
  failures: number;
  consecutiveFailures: number;
  /** Samples the last good scrape parsed (without `_created`). */
  lastSamplesScraped: number;
  /** Product series the last good scrape stored. */
  lastSamplesStored: number;
  /** Parsed samples the last good scrape did not store, and why. */
  lastSamplesDropped: number;
  lastDroppedByReason: Partial<Record<DropReason, number>>;
  /** Samples the store refused in the last scrape, by error name (e.g. OutOfOrderSampleError). */
  lastAppendErrors: Record<string, number>;
  /** Stale markers written since start. */
  staleMarkers: number;
}

/** What one scrape did, for counters such as mim_samples_ingested_total{source="scrape"}. */
export interface ScrapeOutcome {
  target: string;
  project_id: string;
  /** The scrape failed (fetch, parse or storage); stale markers may still have been written. */
  failed: boolean;
  /** Product samples stored (stale markers not included). */
  stored: number;
  /** Samples the store refused (out of order, duplicate timestamp, …). */
  rejected: number;
  /** Parsed samples the mapping did not keep. */
  dropped: number;
  staleMarkers: number;
}

interface Tracked {
  labels: Labels;
  ref: SeriesRef;
}

export class TargetLoop {
  readonly status: TargetStatus;
  /** Series (without exposed timestamps) the last committed scrape wrote, by labels key. */
  private previous = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private nextAt = 0;
  private stopped = false;

  constructor(
    private readonly target: ScrapeTarget,
    private readonly appendable: Appendable,
    private readonly now: () => number,
    private readonly stop: AbortSignal,
    private readonly log: ScrapeLogger | undefined,
    private readonly onScrape: ((outcome: ScrapeOutcome) => void) | undefined = undefined,
  ) {
    this.status = {
      name: target.name,
      url: target.url.href,
      project_id: target.project_id,
      service_tier: target.service_tier,
      model_name: target.model_name,
      intervalMs: target.intervalMs,
      timeoutMs: target.timeoutMs,
      health: "unknown",
      lastScrape: null,
      lastScrapeDurationMs: null,
      lastError: null,
      scrapes: 0,
      failures: 0,
      consecutiveFailures: 0,
      lastSamplesScraped: 0,
      lastSamplesStored: 0,
      lastSamplesDropped: 0,
      lastDroppedByReason: {},
      lastAppendErrors: {},
      staleMarkers: 0,
    };
  }

  /** First scrape after `offsetMs` (spreads targets over the interval), then every interval. */
  start(offsetMs: number): void {
    this.nextAt = performance.now() + offsetMs;
    this.timer = setTimeout(() => this.tick(), offsetMs);
  }

  /** Stops the timer and waits for a scrape in flight (aborted by the shared signal). */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.scrape()
      .catch((err: unknown) => {
        // scrape() handles its own failures; this is a bug guard so the loop never dies.
        this.log?.error({ target: this.target.name, err }, "scrape loop error");
      })
      .finally(() => {
        this.running = undefined;
      });
    // Keep the phase: the next tick is one interval after this one, skipping ticks already missed.
    const t = performance.now();
    do this.nextAt += this.target.intervalMs;
    while (this.nextAt <= t);
    this.timer = setTimeout(() => {
      // A scrape cannot outlive its timeout (≤ interval); if it somehow did, wait for it.
      void Promise.resolve(this.running).then(() => this.tick());
    }, this.nextAt - t);
  }

  /** One scrape; never throws for a target's or the store's failure, it records them instead. */
  async scrape(): Promise<void> {
    const t = Math.round(this.now());
    const started = performance.now();
    let samples: ReturnType<typeof mapExposition> | undefined;
    let scraped = 0;
    let failure: string | null = null;
    try {
      const page = await fetchPage(this.target, this.stop);
      const exposition = parseExposition(page.text, page.format);
      scraped = exposition.samples.length;
      samples = mapExposition(exposition.samples, this.target);
    } catch (err) {
      failure = (err as Error).message;
    }
    // Shutting down: write nothing, not even stale markers, so a restart continues the series
    // (Prometheus likewise writes no end-of-run markers when it stops).
    if (this.stopped || this.stop.aborted) return;

    const app = this.appendable.appender();
    const current = new Map<string, Tracked>();
    const appendErrors: Record<string, number> = {};
    let stored = 0;
    let stale = 0;
    try {
      for (const s of samples?.samples ?? []) {
        const key = labelsKey(s.labels);
        let ref = this.previous.get(key)?.ref ?? 0;
        try {
          ref = app.append(ref, s.labels, s.timestampMs ?? t, s.value);
          stored++;
        } catch (err) {
          if (!(err instanceof SampleError)) throw err;
          appendErrors[err.name] = (appendErrors[err.name] ?? 0) + 1;
        }
        if (s.timestampMs === undefined) current.set(key, { labels: s.labels, ref });
      }
      for (const [key, p] of this.previous) {
        if (current.has(key)) continue;
        try {
          app.append(p.ref, p.labels, t, StaleNaN);
          stale++;
        } catch (err) {
          if (!(err instanceof SampleError)) throw err;
        }
      }
      app.commit();
    } catch (err) {
      // The store refused the batch (disk full, closed): nothing of it was written. Keep the
      // previous series so the next scrape still marks the ones that vanish.
      try {
        app.rollback();
      } catch {
        // already finished by the failed commit
      }
      this.finish(t, started, `storage: ${(err as Error).message}`);
      this.report(true, 0, 0, 0, 0);
      return;
    }
    this.previous = current;
    this.status.staleMarkers += stale;
    this.status.lastAppendErrors = appendErrors;
    if (samples !== undefined) {
      this.status.lastSamplesScraped = scraped;
      this.status.lastSamplesStored = stored;
      this.status.lastSamplesDropped = samples.dropped;
      this.status.lastDroppedByReason = samples.droppedByReason;
    }
    this.finish(t, started, failure);
    const rejected = Object.values(appendErrors).reduce((a, b) => a + b, 0);
    this.report(failure !== null, stored, rejected, samples?.dropped ?? 0, stale);
  }

  private report(failed: boolean, stored: number, rejected: number, dropped: number, stale: number): void {
    if (this.onScrape === undefined) return;
    const outcome: ScrapeOutcome = {
      target: this.target.name,
      project_id: this.target.project_id,
      failed,
      stored,
      rejected,
      dropped,
      staleMarkers: stale,
    };
    try {
      this.onScrape(outcome);
    } catch (err) {
      this.log?.error({ target: this.target.name, err }, "onScrape callback failed");
    }
  }

  private finish(t: number, started: number, failure: string | null): void {
    const s = this.status;
    const wasUp = s.health;
    s.scrapes++;
    s.lastScrape = t;
    s.lastScrapeDurationMs = Math.round(performance.now() - started);
    const fields = { target: s.name, url: s.url, project_id: s.project_id };
    if (failure === null) {
      s.health = "up";
      s.consecutiveFailures = 0;
      if (wasUp === "down") this.log?.info(fields, "scrape target is up again");
    } else {
      s.health = "down";
      s.failures++;
      s.consecutiveFailures++;
      // Once per outage (and when the reason changes), not once per interval.
      if (wasUp !== "down" || s.lastError !== failure) {
        this.log?.warn({ ...fields, err: failure }, "scrape failed");
      }
    }
    s.lastError = failure;
  }
}
