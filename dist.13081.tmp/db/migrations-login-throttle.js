import { sql } from "kysely";
function loginThrottleMigration() {
  return {
    async up(db) {
      await sql`create table login_throttle (
        key text primary key,
        failures bigint not null,
        blocked_until bigint not null,
        last_failure_at bigint not null)`.execute(db);
      await sql`create index login_throttle_last_failure on login_throttle (last_failure_at)`.execute(db);
    }
  };
}
export {
  loginThrottleMigration
};
//# sourceMappingURL=migrations-login-throttle.js.map
