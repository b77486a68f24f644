// Account and repository lookups shared by the services (repositories.ts re-exports findRepository).
import type { DB } from '../../db/database.js';
import { prepared } from '../../db/prepared.js';
import type { AccountRow } from './context.js';
import { notFound } from './errors.js';
import type { RepoFacts } from './roles.js';

const COLS = ['id', 'name', 'kind', 'email', 'superuser', 'enabled', 'owner_id', 'created_at'] as const;

export async function findAccount(db: DB, name: string): Promise<AccountRow | undefined> {
  return db.selectFrom('account').select(COLS).where('name', '=', name).executeTakeFirst();
}

export async function findAccountById(db: DB, id: number): Promise<AccountRow | undefined> {
  return db.selectFrom('account').select(COLS).where('id', '=', id).executeTakeFirst();
}

export async function requireNamespace(db: DB, name: string): Promise<AccountRow> {
  const a = await findAccount(db, name);
  if (!a || a.kind === 'robot') throw notFound(`namespace "${name.slice(0, 100)}" does not exist`);
  return a;
}

export async function requireOrg(db: DB, name: string): Promise<AccountRow> {
  const a = await findAccount(db, name);
  if (!a || a.kind !== 'org') throw notFound(`organization "${name.slice(0, 100)}" does not exist`);
  return a;
}

export async function requireUser(db: DB, name: string): Promise<AccountRow> {
  const a = await findAccount(db, name);
  if (!a || a.kind !== 'user') throw notFound(`user "${name.slice(0, 100)}" does not exist`);
  return a;
}

/** A repository by name, with what access decisions need (owner namespace, visibility). */
const repositoryByName = prepared(1, (db: DB, name: string) =>
  db.selectFrom('repository').select(['id', 'name', 'namespace_id', 'visibility']).where('name', '=', name),
);

export async function findRepository(db: DB, name: string): Promise<RepoFacts | undefined> {
  return (await repositoryByName(db, name)).rows[0] as RepoFacts | undefined;
}

/** LDAP_RESTRICTED_USER_FILTER matched at the user's last directory sign-in (account_identity.restricted). */
export async function isRestrictedUser(db: DB, accountId: number): Promise<boolean> {
  const r = await db.selectFrom('account_identity').select('restricted').where('account_id', '=', accountId).executeTakeFirst();
  return r?.restricted === 1;
}
