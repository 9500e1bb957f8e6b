// Worker threads do not inherit tsx's module hooks (they are registered per thread), so a pool
// worker starts here, registers them, then loads its TypeScript entry.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
