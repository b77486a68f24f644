// Migration 0002_accounts: users, organizations and robots (one account table, as in Quay), teams,
// repository ownership/visibility and permissions, app tokens, UI sessions, token signing keys.
import { sql, type Kysely, type RawBuilder } from 'kysely';

export async function accountsMigration(db: Kysely<unknown>, id: (t: string) => RawBuilder<unknown>): Promise<void> {
  await sql`create table account (${id('id')}, name text not null unique, kind text not null,
    email text, password_hash text, token_digest text, owner_id bigint references account(id) on delete cascade,
    superuser integer not null default 0, enabled integer not null default 1, created_at bigint not null)`.execute(db);
  await sql`create index account_owner on account (owner_id)`.execute(db);
  await sql`create table team (${id('id')}, org_id bigint not null references account(id) on delete cascade,
    name text not null, role text not null, description text, created_at bigint not null, unique (org_id, name))`.execute(db);
  await sql`create table team_member (team_id bigint not null references team(id) on delete cascade,
    account_id bigint not null references account(id) on delete cascade, primary key (team_id, account_id))`.execute(db);
  await sql`create index team_member_account on team_member (account_id)`.execute(db);
  await sql`alter table repository add column namespace_id bigint references account(id) on delete cascade`.execute(db);
  await sql`alter table repository add column visibility text not null default 'private'`.execute(db);
  await sql`alter table repository add column description text`.execute(db);
  await sql`create index repository_namespace on repository (namespace_id)`.execute(db);
  await sql`create table repository_user_permission (repository_id bigint not null references repository(id) on delete cascade,
    account_id bigint not null references account(id) on delete cascade, role text not null, primary key (repository_id, account_id))`.execute(
    db,
  );
  await sql`create index repository_user_permission_account on repository_user_permission (account_id)`.execute(db);
  await sql`create table repository_team_permission (repository_id bigint not null references repository(id) on delete cascade,
    team_id bigint not null references team(id) on delete cascade, role text not null, primary key (repository_id, team_id))`.execute(db);
  await sql`create table app_token (${id('id')}, account_id bigint not null references account(id) on delete cascade,
    title text not null, token_digest text not null unique, created_at bigint not null, last_used_at bigint, expires_at bigint)`.execute(
    db,
  );
  await sql`create table session (digest text primary key, account_id bigint not null references account(id) on delete cascade,
    csrf text not null, created_at bigint not null, expires_at bigint not null)`.execute(db);
  await sql`create table signing_key (kid text primary key, alg text not null, private_pem text not null, public_pem text not null,
    created_at bigint not null, retired_at bigint)`.execute(db);
}
