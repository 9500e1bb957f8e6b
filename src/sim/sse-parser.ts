/**
 * Incremental parser for the `data:` fields of a server-sent-event stream, the framing OpenAI's
 * streaming responses use. Network reads split events anywhere (mid-line, mid-UTF-8 sequence when
 * fed bytes through a streaming TextDecoder), so it keeps the unfinished tail between feeds.
 * Only `data` matters for OpenAI streams; comments (`:`) and other fields are skipped.
 */
export class SseParser {
  private buf = "";

  /** Feeds text; returns the data of every event completed by it (multi-line data joined by \n). */
  feed(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    for (;;) {
      const m = /\r\n\r\n|\n\n|\r\r/.exec(this.buf);
      if (!m) break;
      const event = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const data: string[] = [];
      for (const line of event.split(/\r\n|\n|\r/)) {
        if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
      if (data.length > 0) out.push(data.join("\n"));
    }
    return out;
  }

  /** Text received after the last complete event (non-empty at end of stream = a truncated event). */
  get pending(): string {
    return this.buf;
  }
}

/** Parses a whole SSE body at once (tests). */
export function parseSse(body: string): string[] {
  return new SseParser().feed(body);
}
