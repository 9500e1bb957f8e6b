/**
 * Builds the metrics page into web/dist: index.html plus content-hashed files under assets/, which
 * src/api/web-routes.ts serves (index.html for the page's routes, /assets/* with immutable caching).
 * Paths are resolved from this file so the build works from any working directory.
 */
import { defineConfig } from "vite";

const here = decodeURIComponent(new URL(".", import.meta.url).pathname);

export default defineConfig({
  root: here,
  base: "/",
  publicDir: false,
  build: {
    outDir: `${here}dist`,
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    // One small page: a single JS chunk keeps the request count (and the budget check) simple.
    modulePreload: false,
    reportCompressedSize: false,
  },
});
