// Migration 0012_identity: accounts linked to an external identity (LDAP entry, OIDC subject), teams synced
// with a directory group or a group claim, and the OIDC sign-ins in flight (state, nonce, PKCE verifier).
import { sql, type Kysely, type Migration, type RawBuilder } from 'kysely';

export function identityMigration(id: (col: string) => RawBuilder<unknown>): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // provider: 'ldap' or 'oidc:<id>'; subject: the LDAP uid or the OIDC issuer's sub. restricted: LDAP_RESTRICTED_USER_FILTER.
      await sql`create table account_identity (
        provider text not null,
        subject text not null,
        account_id bigint not null references account(id) on delete cascade,
        restricted integer not null default 0,
        created_at bigint not null,
        last_login_at bigint,
        primary key (provider, subject))`.execute(db);
      await sql`create index account_identity_account on account_identity (account_id)`.execute(db);
      // One row per synced team: service 'ldap' (config {group_dn}) or 'oidc:<id>' (config {group_name}).
      await sql`create table team_sync (
        team_id bigint primary key references team(id) on delete cascade,
        service text not null,
        config text not null,
        last_updated bigint,
        last_error text,
        created_at bigint not null)`.execute(db);
      await sql`create table oidc_login (
        ${id('id')},
        state_digest text not null unique,
        provider text not null,
        nonce text not null,
        code_verifier text not null,
        created_at bigint not null,
        expires_at bigint not null)`.execute(db);
    },
  };
}
