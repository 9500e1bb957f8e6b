/**
 * Server-sent events as OpenAI-compatible servers stream them: `data: {json}\n\n` per chunk,
 * `data: [DONE]\n\n` at the end. The gateway works on the raw bytes so it can forward each
 * event exactly as received; it only needs to know where events end and what each one holds.
 *
 * Events end at an empty line ("\n\n" or "\r\n\r\n"). Bare "\r" line endings, which the SSE spec
 * allows but no inference server sends, are not recognised: such a stream is still forwarded
 * byte for byte, just as one event at the end.
 */

const LF = 0x0a;
const CR = 0x0d;

/** Splits a byte stream into complete events, keeping a partial one for the next chunk. */
export class SseSplitter {
  private tail: Buffer | null = null;
  /** Where scanning of `tail` resumes (its earlier bytes hold no event end). */
  private scanFrom = 0;
  /** Offset of the current line's start within the scanned buffer. */
  private lineStart = 0;

  /**
   * Calls `onEvent(buf, start, end)` for each event completed by `chunk`, in order; `end` is just
   * past the event's blank line, so consecutive events tile the stream with no gaps.
   */
  push(chunk: Buffer, onEvent: (buf: Buffer, start: number, end: number) => void): void {
    let buf: Buffer;
    if (this.tail === null) {
      buf = chunk;
      this.scanFrom = 0;
      this.lineStart = 0;
    } else {
      buf = Buffer.concat([this.tail, chunk]);
    }
    let eventStart = 0;
    let lineStart = this.lineStart;
    for (let i = buf.indexOf(LF, this.scanFrom); i !== -1; i = buf.indexOf(LF, i + 1)) {
      const lineLen = i - lineStart - (i > lineStart && buf[i - 1] === CR ? 1 : 0);
      // A blank line ends the event before it; a stray one with nothing before it stays with the
      // next event, so the events still tile the stream.
      if (lineLen === 0 && lineStart > eventStart) {
        onEvent(buf, eventStart, i + 1);
        eventStart = i + 1;
      }
      lineStart = i + 1;
    }
    if (eventStart === buf.length) {
      this.tail = null;
      return;
    }
    this.tail = eventStart === 0 ? buf : buf.subarray(eventStart);
    this.scanFrom = buf.length - eventStart;
    this.lineStart = lineStart - eventStart;
  }

  /** The bytes of an unfinished event, if any (at the end of the stream). */
  takeTail(): Buffer | null {
    const t = this.tail;
    this.tail = null;
    return t;
  }
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

/** What one event holds, as far as metering is concerned. */
export interface EventInfo {
  /** `data: [DONE]`. */
  done: boolean;
  /** Carries generated content (text, reasoning, refusal or tool calls): a token for TTFT/TPOT. */
  content: boolean;
  /** The `usage` object, if the event has a non-null one. */
  usage: Usage | null;
  /** Only usage, no choices: the chunk include_usage adds, which may be stripped. */
  usageOnly: boolean;
  /** An `error` object (servers report failures mid-stream this way). */
  error: boolean;
}

const DATA = Buffer.from("data:");

function startsWithData(buf: Buffer, at: number, end: number): boolean {
  if (end - at < 5) return false;
  for (let k = 0; k < 5; k++) if (buf[at + k] !== DATA[k]) return false;
  return true;
}

/** The joined `data:` payload of an event (null when it has none). */
export function eventData(buf: Buffer, start: number, end: number): string | null {
  let out: string | null = null;
  let ls = start;
  while (ls < end) {
    let le = buf.indexOf(LF, ls);
    if (le === -1 || le >= end) le = end;
    const lineEnd = le > ls && buf[le - 1] === CR ? le - 1 : le;
    if (startsWithData(buf, ls, lineEnd)) {
      let from = ls + 5;
      if (buf[from] === 0x20) from++;
      const part = buf.toString("utf8", from, lineEnd);
      out = out === null ? part : `${out}\n${part}`;
    }
    ls = le + 1;
  }
  return out;
}

function nonEmpty(v: unknown): boolean {
  if (typeof v === "string") return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  return v !== null && v !== undefined && typeof v === "object";
}

function hasContent(choice: unknown): boolean {
  if (choice === null || typeof choice !== "object") return false;
  const c = choice as Record<string, unknown>;
  if (typeof c.text === "string" && c.text.length > 0) return true; // /v1/completions
  const d = c.delta;
  if (d === null || typeof d !== "object") return false;
  const delta = d as Record<string, unknown>;
  return (
    nonEmpty(delta.content) ||
    nonEmpty(delta.reasoning_content) ||
    nonEmpty(delta.reasoning) ||
    nonEmpty(delta.refusal) ||
    nonEmpty(delta.tool_calls) ||
    nonEmpty(delta.function_call)
  );
}

/** Reads `usage` the OpenAI way (prompt_tokens, completion_tokens); null if absent or malformed. */
export function readUsage(v: unknown): Usage | null {
  if (v === null || typeof v !== "object") return null;
  const u = v as Record<string, unknown>;
  const input = u.prompt_tokens;
  const output = u.completion_tokens;
  const ok = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n) && n >= 0;
  if (!ok(input) && !ok(output)) return null;
  return { inputTokens: ok(input) ? input : 0, outputTokens: ok(output) ? output : 0 };
}

const OTHER: EventInfo = { done: false, content: false, usage: null, usageOnly: false, error: false };
const DONE: EventInfo = { done: true, content: false, usage: null, usageOnly: false, error: false };

/** Classifies one event (bytes [start, end) of buf). Events that are not JSON count as "other". */
export function inspectEvent(buf: Buffer, start: number, end: number): EventInfo {
  const data = eventData(buf, start, end);
  if (data === null) return OTHER;
  if (data === "[DONE]") return DONE;
  let obj: unknown;
  try {
    obj = JSON.parse(data);
  } catch {
    return OTHER;
  }
  if (obj === null || typeof obj !== "object") return OTHER;
  const o = obj as Record<string, unknown>;
  const usage = readUsage(o.usage);
  const choices = Array.isArray(o.choices) ? o.choices : null;
  let content = false;
  if (choices !== null) for (const c of choices) if (hasContent(c)) content = true;
  return {
    done: false,
    content,
    usage,
    usageOnly: usage !== null && (choices === null || choices.length === 0),
    error: o.error !== undefined && o.error !== null,
  };
}
