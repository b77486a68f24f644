// Account lookups shared by the accounts services.
import type { DB } from '../../db/database.js';
import type { AccountRow } from './context.js';
import { notFound } from './errors.js';

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

/** LDAP_RESTRICTED_USER_FILTER matched at the user's last directory sign-in (account_identity.restricted). */
export async function isRestrictedUser(db: DB, accountId: number): Promise<boolean> {
  const r = await db.selectFrom('account_identity').select('restricted').where('account_id', '=', accountId).executeTakeFirst();
  return r?.restricted === 1;
}
