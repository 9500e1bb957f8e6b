/**
 * Serves the metrics page (web/, built by `npm run build:web` into web/dist): hashed assets with
 * long caching, and index.html for the page's routes so deep links work. The page is an ordinary
 * client of the public API; nothing here knows about tokens or data.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";

/** Paths the page's router handles; each answers with index.html. */
const PAGE_ROUTES = [
  "/",
  "/projects/:projectId",
  "/projects/:projectId/metrics",
  "/projects/:projectId/tokens",
];

export async function registerWebRoutes(app: FastifyInstance, root: string): Promise<void> {
  const built = existsSync(join(root, "index.html"));
  if (built) {
    await app.register(fastifyStatic, {
      // Only the hashed asset folder is served as files; page routes are explicit below.
      root: join(root, "assets"),
      prefix: "/assets/",
      index: false,
      // File names carry a content hash: a name never changes meaning.
      maxAge: "365d",
      immutable: true,
    });
  }
  const page = async (_req: unknown, reply: FastifyReply) => {
    if (!built) {
      return reply
        .code(503)
        .type("text/plain")
        .send("The metrics page is not built: run `npm run build:web` (npm start does it).\n");
    }
    reply.header("Cache-Control", "no-cache");
    return reply.sendFile("index.html", root, { cacheControl: false });
  };
  for (const url of PAGE_ROUTES) app.get(url, page);
}
