// Worker threads do not inherit tsx's module hooks (they are registered per thread), so a worker
// (a query pool's, a block job's) starts here, registers them, then loads its TypeScript entry.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
