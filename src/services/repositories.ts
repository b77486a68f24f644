// Repositories: by name for the registry (find one, or create it on the first push that stores something), and
// as accounts see them (RepoService: owner namespace, visibility, description, permission grants, the one access check).
import { RegistryError } from '../oci/errors.js';
import { isValidRepositoryName, requireRepositoryName } from '../oci/names.js';
import type { DB } from '../db/database.js';
import { lexical } from '../db/sql-dialect.js';
import type { RepoRole } from '../db/types.js';
import type { ServiceContext } from './context.js';
import { recordRepositoriesDeleted } from './gc-candidates.js';
import type { AccountsContext, Principal } from './accounts/context.js';
import { AccountError, conflict, forbidden, invalid, notFound } from './accounts/errors.js';
import type { PermissionService } from './accounts/permissions.js';
import { atLeast, namespaceOf, REPO_ROLES, type RepoFacts } from './accounts/roles.js';
import { findAccount, findRepository, requireNamespace, requireOrg } from './accounts/store.js';

export type RepositoryRow = RepoFacts;
export { findRepository };

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
  await ctx.db
    .insertInto('repository')
    .values({ name, created_at: ctx.now() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const created = await findRepository(ctx.db, name);
  if (!created) throw new Error(`repository ${name} vanished while being created`);
  return created;
}

export interface RepoView {
  namespace: string;
  name: string;
  description: string | null;
  is_public: boolean;
  created: number;
  /** Quay's repository state (NORMAL, READ_ONLY, MIRROR), in the view of one repository. */
  state?: 'NORMAL' | 'READ_ONLY' | 'MIRROR';
}

export class RepoService {
  constructor(
    private readonly ctx: AccountsContext,
    private readonly perms: PermissionService,
  ) {}

  requireName(full: string): string {
    if (!isValidRepositoryName(full) || !full.includes('/')) {
      throw invalid(
        `repository name "${full.slice(0, 200)}" is not valid: "namespace/name", lowercase letters, digits and separators (. _ __ -), at most 255 characters`,
      );
    }
    return full;
  }

  /**
   * The one "may the caller use this repository" check of /api/v1, with Quay's answers: without the needed
   * right the caller gets 401 (anonymous) or 403 (signed in) whether or not the repository exists; a missing
   * repository is 404 only for a caller whose right covers the whole namespace (its owner or an organization
   * admin, a superuser), who would be allowed in if it existed. /v2 answers through the token's grants instead.
   */
  async requireAccess(p: Principal, full: string, needed: RepoRole): Promise<{ repo: RepoFacts; role: RepoRole }> {
    this.requireName(full);
    const refuse = (m: string) => new AccountError(p.kind === 'anonymous' ? 'unauthorized' : 'forbidden', m);
    const hidden = `you may not access repository "${full}" (or it does not exist)`;
    const repo = await this.perms.findRepo(full);
    if (!repo) {
      if (this.ctx.auth.open || (await this.perms.isNamespaceAdmin(p, namespaceOf(full))))
        throw notFound(`repository "${full}" does not exist`);
      throw refuse(hidden);
    }
    const role = await this.perms.role(p, repo);
    if (!role) throw refuse(hidden);
    if (!atLeast(role, needed)) throw refuse(`this needs ${needed} permission on repository "${full}"; you have ${role}`);
    return { repo, role };
  }

  /** Throws unless the caller may create this repository (valid name, existing namespace, the right to create in it). */
  async checkCreate(p: Principal, full: string): Promise<{ id: number; name: string }> {
    this.requireName(full);
    const ns = await requireNamespace(this.ctx.db, namespaceOf(full));
    if (!(await this.perms.canCreateIn(p, ns.name))) throw forbidden(`you may not create repositories in namespace "${ns.name}"`);
    return ns;
  }

  /** Creates a repository for the caller, who must be allowed to create in the namespace. */
  async create(p: Principal, full: string, visibility: 'public' | 'private', description?: string | null): Promise<RepoFacts> {
    const ns = await this.checkCreate(p, full);
    if (await this.perms.findRepo(full)) throw conflict(`repository "${full}" already exists`);
    await this.ctx.db
      .insertInto('repository')
      .values({ name: full, created_at: this.ctx.now(), namespace_id: ns.id, visibility, description: description ?? null })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const repo = (await this.perms.findRepo(full))!;
    // As in Quay: a creator who is not an admin of the namespace gets admin on what they created.
    if (p.kind !== 'anonymous' && !(await this.perms.isNamespaceAdmin(p, ns.name))) {
      await this.ctx.db
        .insertInto('repository_user_permission')
        .values({ repository_id: repo.id, account_id: p.id, role: 'admin' })
        .onConflict((oc) => oc.columns(['repository_id', 'account_id']).doUpdateSet({ role: 'admin' }))
        .execute();
    }
    return repo;
  }

  async require(full: string): Promise<RepoFacts> {
    const r = await this.perms.findRepo(full);
    if (!r) throw notFound(`repository "${full.slice(0, 255)}" does not exist`);
    return r;
  }

  async view(full: string): Promise<RepoView> {
    const r = await this.ctx.db
      .selectFrom('repository')
      .select(['name', 'description', 'visibility', 'created_at', 'state'])
      .where('name', '=', full)
      .executeTakeFirst();
    if (!r) throw notFound(`repository "${full.slice(0, 255)}" does not exist`);
    return {
      namespace: namespaceOf(r.name),
      name: r.name.slice(namespaceOf(r.name).length + 1),
      description: r.description,
      is_public: r.visibility === 'public',
      created: r.created_at,
      state: r.state,
    };
  }

  async update(full: string, o: { description?: string | null; visibility?: 'public' | 'private' }): Promise<RepoView> {
    const r = await this.require(full);
    const set: { description?: string | null; visibility?: 'public' | 'private' } = {};
    if (o.description !== undefined) set.description = o.description;
    if (o.visibility !== undefined) set.visibility = o.visibility;
    if (Object.keys(set).length) await this.ctx.db.updateTable('repository').set(set).where('id', '=', r.id).execute();
    return this.view(full);
  }

  async delete(full: string): Promise<void> {
    const r = await this.require(full);
    const digests = (await this.ctx.db.selectFrom('manifest').select('digest').where('repository_id', '=', r.id).execute()).map(
      (m) => m.digest,
    );
    await this.ctx.db.transaction().execute(async (tx) => {
      // Its links go with it (the database cascades them): each blob is a gc candidate.
      await recordRepositoriesDeleted(tx, { repositoryId: r.id }, this.ctx.now());
      await tx.deleteFrom('repository').where('id', '=', r.id).execute();
    });
    await this.ctx.quota?.namespacesChanged([namespaceOf(full)]);
    if (digests.length && this.ctx.onManifestsRemoved) await this.ctx.onManifestsRemoved(digests).catch(() => undefined);
  }

  /** Repositories the caller can read, optionally in one namespace. */
  async list(p: Principal, namespace?: string): Promise<RepoView[]> {
    const ids = await this.perms.readableRepositoryIds(p);
    // In byte order, and a namespace as a range of names (`ns/` up to `ns0`, '0' following '/'), which the
    // name index serves on both dialects (a LIKE pattern cannot use it under PostgreSQL's locale collation).
    const order = lexical(this.ctx.dialect, 'name');
    let q = this.ctx.db
      .selectFrom('repository')
      .select(['name', 'description', 'visibility', 'created_at'])
      .orderBy(order as never)
      .limit(1000);
    if (ids) q = q.where('id', 'in', ids.length ? ids : [-1]);
    if (namespace) q = q.where(order as never, '>=', `${namespace}/` as never).where(order as never, '<', `${namespace}0` as never);
    const rows = await q.execute();
    return rows
      .filter((r) => !namespace || namespaceOf(r.name) === namespace)
      .map((r) => ({
        namespace: namespaceOf(r.name),
        name: r.name.slice(namespaceOf(r.name).length + 1),
        description: r.description,
        is_public: r.visibility === 'public',
        created: r.created_at,
      }));
  }

  requireRole(role: string): RepoRole {
    if (!REPO_ROLES.includes(role as RepoRole)) throw invalid(`role must be one of ${REPO_ROLES.join(', ')}`);
    return role as RepoRole;
  }

  async setUserPermission(full: string, who: string, role: RepoRole): Promise<{ name: string; role: RepoRole; is_robot: boolean }> {
    const r = await this.require(full);
    const a = await findAccount(this.ctx.db, who);
    if (!a || a.kind === 'org') throw notFound(`user or robot "${who.slice(0, 100)}" does not exist`);
    await this.ctx.db
      .insertInto('repository_user_permission')
      .values({ repository_id: r.id, account_id: a.id, role })
      .onConflict((oc) => oc.columns(['repository_id', 'account_id']).doUpdateSet({ role }))
      .execute();
    return { name: a.name, role, is_robot: a.kind === 'robot' };
  }

  async removeUserPermission(full: string, who: string): Promise<void> {
    const r = await this.require(full);
    const a = await findAccount(this.ctx.db, who);
    const d =
      a &&
      (await this.ctx.db
        .deleteFrom('repository_user_permission')
        .where('repository_id', '=', r.id)
        .where('account_id', '=', a.id)
        .executeTakeFirst());
    if (!d || Number(d.numDeletedRows) === 0) throw notFound(`"${who.slice(0, 100)}" has no permission on "${full}"`);
  }

  async setTeamPermission(full: string, team: string, role: RepoRole): Promise<{ name: string; role: RepoRole }> {
    const r = await this.require(full);
    const org = await requireOrg(this.ctx.db, namespaceOf(full)).catch(() => {
      throw invalid('team permissions exist only on repositories of an organization');
    });
    const t = await this.ctx.db.selectFrom('team').select('id').where('org_id', '=', org.id).where('name', '=', team).executeTakeFirst();
    if (!t) throw notFound(`team "${team.slice(0, 64)}" does not exist in organization "${org.name}"`);
    await this.ctx.db
      .insertInto('repository_team_permission')
      .values({ repository_id: r.id, team_id: t.id, role })
      .onConflict((oc) => oc.columns(['repository_id', 'team_id']).doUpdateSet({ role }))
      .execute();
    return { name: team, role };
  }

  async removeTeamPermission(full: string, team: string): Promise<void> {
    const r = await this.require(full);
    const t = await this.ctx.db
      .selectFrom('team')
      .select('team.id')
      .where('org_id', '=', r.namespace_id ?? -1)
      .where('name', '=', team)
      .executeTakeFirst();
    const d =
      t &&
      (await this.ctx.db
        .deleteFrom('repository_team_permission')
        .where('repository_id', '=', r.id)
        .where('team_id', '=', t.id)
        .executeTakeFirst());
    if (!d || Number(d.numDeletedRows) === 0) throw notFound(`team "${team.slice(0, 64)}" has no permission on "${full}"`);
  }

  async permissions(
    full: string,
  ): Promise<{ users: { name: string; role: RepoRole; is_robot: boolean }[]; teams: { name: string; role: RepoRole }[] }> {
    const r = await this.require(full);
    const users = await this.ctx.db
      .selectFrom('repository_user_permission as p')
      .innerJoin('account as a', 'a.id', 'p.account_id')
      .select(['a.name', 'a.kind', 'p.role'])
      .where('p.repository_id', '=', r.id)
      .orderBy('a.name')
      .execute();
    const teams = await this.ctx.db
      .selectFrom('repository_team_permission as p')
      .innerJoin('team as t', 't.id', 'p.team_id')
      .select(['t.name', 'p.role'])
      .where('p.repository_id', '=', r.id)
      .orderBy('t.name')
      .execute();
    return { users: users.map((u) => ({ name: u.name, role: u.role, is_robot: u.kind === 'robot' })), teams };
  }
}
