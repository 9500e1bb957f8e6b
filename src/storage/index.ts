export * from "./errors.js";
export type * from "./interface.js";
export * from "./labels.js";
export * from "./matcher.js";
export * from "./project-scope.js";
export * from "./sample.js";
export * from "./value.js";
