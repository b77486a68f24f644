// Repositories by name: find one, or create it on first push.
import { RegistryError } from '../oci/errors.js';
import { requireRepositoryName } from '../oci/names.js';
import type { DB } from '../db/database.js';
import type { ServiceContext } from './context.js';
import { AccountError } from './accounts/errors.js';

export interface RepositoryRow { id: number; name: string }

export async function findRepository(db: DB, name: string): Promise<RepositoryRow | undefined> {
  return db.selectFrom('repository').select(['id', 'name']).where('name', '=', name).executeTakeFirst();
}

export async function requireRepository(db: DB, name: string): Promise<RepositoryRow> {
  const repo = await findRepository(db, requireRepositoryName(name));
  if (!repo) throw new RegistryError('NAME_UNKNOWN', `repository "${name}" is not known to this registry`, { name });
  return repo;
}

/** The id of a repository named in an /api/v1 call; a missing one is the API's `not_found`. */
export async function apiRepositoryId(db: DB, name: string): Promise<number> {
  const r = await findRepository(db, name);
  if (!r) throw new AccountError('not_found', `repository "${name.slice(0, 255)}" does not exist`);
  return r.id;
}

/**
 * Creates a repository for the caller of one push (accounts: owned by its namespace, with the caller's rights);
 * called only when the push stores something, so a refused push leaves no repository behind.
 */
export type RepositoryCreator = (name: string) => Promise<void>;

/** Returns the repository, creating it (through `create` when given) when a push names a new one. */
export async function ensureRepository(ctx: ServiceContext, name: string, create?: RepositoryCreator): Promise<RepositoryRow> {
  requireRepositoryName(name);
  const found = await findRepository(ctx.db, name);
  if (found) return found;
  if (create) {
    await create(name);
    const made = await findRepository(ctx.db, name);
    if (!made) throw new Error(`repository ${name} vanished while being created`);
    return made;
  }
  await ctx.db.insertInto('repository').values({ name, created_at: ctx.now() })
    .onConflict((oc) => oc.column('name').doNothing()).execute();
  const created = await findRepository(ctx.db, name);
  if (!created) throw new Error(`repository ${name} vanished while being created`);
  return created;
}
