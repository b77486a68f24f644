import { sql } from "kysely";
function lexical(dialect, column) {
  return dialect === "postgres" ? sql`${sql.ref(column)} collate "C"` : sql`${sql.ref(column)}`;
}
export {
  lexical
};
//# sourceMappingURL=sql-dialect.js.map
