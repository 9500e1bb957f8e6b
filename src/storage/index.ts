export * from "./errors.js";
export type * from "./interface.js";
export * from "./labels.js";
export * from "./matcher.js";
export { emptySeriesSet, listSeriesSet } from "./series-set.js";
export * from "./value.js";
