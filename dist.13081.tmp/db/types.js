export * from "./types-accounts.js";
//# sourceMappingURL=types.js.map
