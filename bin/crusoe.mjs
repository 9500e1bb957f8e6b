#!/usr/bin/env node
// Runs src/cli/crusoe.ts through tsx, so the TypeScript sources are the binary (no build step).
import { register } from "tsx/esm/api";

register();
await import("../src/cli/crusoe.ts");
