/**
 * The load generator: for each stream (API key, model, requests/s), Poisson arrivals of requests
 * drawn from a mix (./load-request.ts), sent to a base URL (the gateway), read to the end, and
 * counted per (API key, model) so tests can compare with what the gateway recorded.
 *
 * Open loop, as real traffic is: arrivals don't wait for responses, up to `maxInFlight`; past that
 * an arrival waits for a free slot (so a stalled upstream can't pile up unbounded requests).
 * Each stream draws from its own PRNG seeded from (seed, stream index), so the sequence of request
 * shapes of a stream is the same on every run whatever the timing.
 */
import { deriveSeed, exponential } from "./distributions.js";
import {
  createAgents,
  drawRequest,
  type RequestMix,
  type RequestOutcome,
  sendRequest,
} from "./load-request.js";
import { mulberry32 } from "./random.js";

export type { RequestMix } from "./load-request.js";

export interface LoadStream {
  apiKey: string;
  model: string;
  /** Poisson arrival rate, requests per second (> 0). */
  rate: number;
  /** Send exactly this many requests, then end the stream. Unset: until stop(). */
  count?: number;
}

export interface LoadOptions extends RequestMix {
  /** Where to send, e.g. the gateway's http://127.0.0.1:PORT (paths are /v1/...). */
  baseUrl: string;
  streams: readonly LoadStream[];
  seed?: number;
  /** Default 256. */
  maxInFlight?: number;
  /** Per request, headers to last byte. Default 120 000. */
  timeoutMs?: number;
}

export interface LoadCounts {
  /** Requests sent (including those still in flight). */
  sent: number;
  /** 200 and, for streams, read to `[DONE]`. */
  ok: number;
  errors: number;
  /** Errors by kind: http_<status>, network, timeout, incomplete, bad_response, aborted (stop). */
  errorsByKind: Record<string, number>;
  /** Of the ok responses: `usage` where present, else the shared prompt estimate / content chunks. */
  inputTokens: number;
  outputTokens: number;
  /** Ok responses that carried no usage (their tokens were counted as above). */
  usageMissing: number;
  /** Streams that carried a usage chunk the request had not asked for. */
  unexpectedUsage: number;
}

export interface LoadStatsEntry extends LoadCounts {
  apiKey: string;
  model: string;
}

export interface LoadStats {
  total: LoadCounts;
  /** One per (API key, model) of the streams, in stream order. */
  entries: LoadStatsEntry[];
  inFlight: number;
}

export interface RunningLoad {
  stats(): LoadStats;
  /** Resolves once every stream has ended (only streams with `count` end by themselves) and drained. */
  done: Promise<void>;
  /**
   * Ends every stream and waits for the requests in flight; those still open after `graceMs`
   * (default: wait for all) are aborted and counted as errors of kind `aborted`.
   */
  stop(graceMs?: number): Promise<void>;
}

function emptyCounts(): LoadCounts {
  return {
    sent: 0,
    ok: 0,
    errors: 0,
    errorsByKind: {},
    inputTokens: 0,
    outputTokens: 0,
    usageMissing: 0,
    unexpectedUsage: 0,
  };
}

function copyCounts(c: LoadCounts): LoadCounts {
  return { ...c, errorsByKind: { ...c.errorsByKind } };
}

function add(c: LoadCounts, o: RequestOutcome): void {
  if (o.ok) {
    c.ok++;
    c.inputTokens += o.inputTokens;
    c.outputTokens += o.outputTokens;
    if (o.usageMissing) c.usageMissing++;
  } else {
    c.errors++;
    const kind = o.error ?? "unknown";
    c.errorsByKind[kind] = (c.errorsByKind[kind] ?? 0) + 1;
  }
  if (o.unexpectedUsage) c.unexpectedUsage++;
}

export function startLoad(options: LoadOptions): RunningLoad {
  for (const s of options.streams) {
    if (!(s.rate > 0)) throw new RangeError(`load stream ${s.apiKey}/${s.model}: rate must be > 0`);
  }
  // A bad distribution (say a lognormal median of 0) throws here, not later inside a stream's loop.
  drawRequest(mulberry32(0), "check", { ...options, maxTokensFraction: 1 });
  const seed = options.seed ?? 1;
  const maxInFlight = options.maxInFlight ?? 256;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const total = emptyCounts();
  const entries = new Map<string, LoadStatsEntry>();
  const inFlight = new Set<Promise<void>>();
  const agents = createAgents(maxInFlight);
  // Wake-ups of sleeping streams and of arrivals waiting for a slot; stop() runs them all.
  const sleepers = new Set<() => void>();
  const slotWaiters: Array<() => void> = [];
  let stopped = false;
  let aborting = false;

  const entryFor = (apiKey: string, model: string): LoadStatsEntry => {
    const k = `${apiKey}\u0000${model}`;
    let e = entries.get(k);
    if (!e) {
      e = { apiKey, model, ...emptyCounts() };
      entries.set(k, e);
    }
    return e;
  };

  const sleepUntil = (at: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(t);
        sleepers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, Math.max(0, at - performance.now()));
      sleepers.add(wake);
    });

  const freeSlot = async () => {
    while (!stopped && inFlight.size >= maxInFlight) await new Promise<void>((r) => slotWaiters.push(r));
  };

  async function runStream(index: number, s: LoadStream): Promise<void> {
    const rand = mulberry32(deriveSeed(seed, index));
    const entry = entryFor(s.apiKey, s.model);
    let next = performance.now();
    for (let n = 0; s.count === undefined || n < s.count; n++) {
      next += exponential(rand, s.rate) * 1000;
      await sleepUntil(next);
      if (stopped) return;
      await freeSlot();
      if (stopped) return;
      // After waiting for a slot, arrivals resume from now rather than bursting to catch up.
      next = Math.max(next, performance.now());
      const spec = drawRequest(rand, s.model, options);
      entry.sent++;
      total.sent++;
      const p = sendRequest(agents, baseUrl, s.apiKey, spec, timeoutMs).then((o) => {
        if (aborting && !o.ok) o = { ...o, error: "aborted" };
        add(entry, o);
        add(total, o);
        inFlight.delete(p);
        slotWaiters.shift()?.();
      });
      inFlight.add(p);
    }
  }

  // Idle keep-alive sockets would hold the process (and the server's close) open after the load.
  const drain = async () => {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
    agents.http.destroy();
    agents.https.destroy();
  };
  const streamsDone = Promise.all(options.streams.map((s, i) => runStream(i, s)));
  const done = streamsDone.then(drain);
  // Callers that only stop() never look at `done`; its failure must not become an unhandled rejection.
  done.catch(() => undefined);

  return {
    stats: () => ({
      total: copyCounts(total),
      entries: [...entries.values()].map((e) => ({ ...e, errorsByKind: { ...e.errorsByKind } })),
      inFlight: inFlight.size,
    }),
    done,
    stop: async (graceMs?: number) => {
      stopped = true;
      for (const wake of [...sleepers]) wake();
      for (const w of slotWaiters.splice(0)) w();
      await streamsDone;
      let grace: NodeJS.Timeout | undefined;
      if (graceMs !== undefined) {
        grace = setTimeout(() => {
          aborting = true;
          // Destroying the agents destroys their sockets in use too: every open request ends now.
          agents.http.destroy();
          agents.https.destroy();
        }, graceMs);
      }
      await drain();
      clearTimeout(grace);
    },
  };
}

/** Sends exactly `count` requests per stream (each stream needs one), waits for all, returns stats. */
export async function runLoad(
  options: LoadOptions & { streams: ReadonlyArray<LoadStream & { count: number }> },
): Promise<LoadStats> {
  const load = startLoad(options);
  await load.done;
  return load.stats();
}
