/** A small client for the simulator tests: posts a body, reads the SSE or JSON answer with timings. */
import http from "node:http";
import { SseParser } from "../../src/sim/sse-parser.js";

export interface StreamResult {
  status: number;
  contentType: string | null;
  /** Data of every SSE event, in order ("[DONE]" included). */
  data: string[];
  /** The events parsed as JSON ("[DONE]" left out). */
  chunks: Array<Record<string, unknown>>;
  /** ms from sending to the read that brought the first / last content token. */
  firstTokenMs: number | undefined;
  lastTokenMs: number | undefined;
  contentTokens: number;
}

function contentOf(chunk: Record<string, unknown>): string {
  const c = (chunk.choices as Array<{ delta?: { content?: string }; text?: string }> | undefined)?.[0];
  return c?.delta?.content ?? c?.text ?? "";
}

/**
 * node:http rather than fetch: fetch's web-stream body costs enough per chunk that 50 concurrent
 * streams in the test process would measure the client, not the server.
 */
export function postStream(url: string, body: unknown, agent?: http.Agent) {
  return new Promise<StreamResult>((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method: "POST", headers: { "content-type": "application/json" }, agent });
    req.on("error", reject);
    req.on("response", (res) => {
      const out: StreamResult = {
        status: res.statusCode ?? 0,
        contentType: res.headers["content-type"] ?? null,
        data: [],
        chunks: [],
        firstTokenMs: undefined,
        lastTokenMs: undefined,
        contentTokens: 0,
      };
      const parser = new SseParser();
      res.setEncoding("utf8");
      res.on("data", (text: string) => {
        const now = performance.now() - t0;
        for (const d of parser.feed(text)) {
          out.data.push(d);
          if (d === "[DONE]") continue;
          const chunk = JSON.parse(d) as Record<string, unknown>;
          out.chunks.push(chunk);
          if (contentOf(chunk) !== "") {
            out.contentTokens++;
            out.firstTokenMs ??= now;
            out.lastTokenMs = now;
          }
        }
      });
      res.on("end", () => resolve(out));
      res.on("error", reject);
    });
    req.end(JSON.stringify(body));
  });
}

export async function postJson(url: string, body: unknown) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
