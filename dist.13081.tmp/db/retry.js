const PG_RETRYABLE = /* @__PURE__ */ new Set(["23505", "23503", "40001", "40P01"]);
const SQLITE_RETRYABLE = /^SQLITE_(BUSY|LOCKED|CONSTRAINT_FOREIGNKEY|CONSTRAINT_UNIQUE|CONSTRAINT_PRIMARYKEY)/;
function isConflict(e) {
  const code = e?.code;
  return typeof code === "string" && (PG_RETRYABLE.has(code) || SQLITE_RETRYABLE.test(code));
}
async function retryOnConflict(work, attempts = 4) {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (e) {
      if (i >= attempts || !isConflict(e)) throw e;
      await new Promise((r) => setTimeout(r, 2 * i + Math.random() * 5));
    }
  }
}
export {
  isConflict,
  retryOnConflict
};
//# sourceMappingURL=retry.js.map
