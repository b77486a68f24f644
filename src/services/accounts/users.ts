// Users: create (with a PBKDF2 password hash), look up, change password, delete.
import { hashPassword, passwordIterations, verifyPassword } from '../../crypto/index.js';
import type { AccountsContext, AccountRow } from './context.js';
import { conflict, invalid } from './errors.js';
import { requireEmail, requireNamespaceName, requirePassword } from './names.js';
import { findAccount, requireUser } from './store.js';
import { recordRepositoriesDeleted } from '../gc-candidates.js';

export class UserService {
  /** First-run admin creations, one at a time in this process, so two forms cannot both create a superuser. */
  private firstAdminQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: AccountsContext) {}

  /** The first administrator (a superuser); `conflict` once any user exists. */
  createFirstAdmin(o: { name: string; email?: string; password: string }): Promise<AccountRow> {
    const run = this.firstAdminQueue.then(async () => {
      if ((await this.count()) > 0) throw conflict('the first administrator already exists; sign in instead');
      return this.create({ ...o, superuser: true });
    });
    this.firstAdminQueue = run.catch(() => undefined);
    return run;
  }

  async create(o: { name: string; email?: string; password: string; superuser?: boolean }): Promise<AccountRow> {
    requireNamespaceName(o.name, 'username');
    if (o.email !== undefined) requireEmail(o.email);
    requirePassword(o.password);
    if (await findAccount(this.ctx.db, o.name)) throw conflict(`the name "${o.name}" is already taken by a user or organization`);
    const hash = await hashPassword(o.password, this.ctx.auth.pbkdf2Iterations);
    await this.ctx.db
      .insertInto('account')
      .values({
        name: o.name,
        kind: 'user',
        email: o.email ?? null,
        password_hash: hash,
        token_digest: null,
        owner_id: null,
        superuser: o.superuser ? 1 : 0,
        created_at: this.ctx.now(),
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const row = await requireUser(this.ctx.db, o.name);
    return row;
  }

  get(name: string): Promise<AccountRow> {
    return requireUser(this.ctx.db, name);
  }

  async count(): Promise<number> {
    const r = await this.ctx.db
      .selectFrom('account')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', 'user')
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  isSuperuser(row: { name: string; superuser: number }): boolean {
    return row.superuser === 1 || this.ctx.auth.superUsers.has(row.name);
  }

  /** Checks a password; re-hashes it when the configured iteration count has grown. */
  async checkPassword(name: string, password: string): Promise<AccountRow | undefined> {
    const row = await this.ctx.db
      .selectFrom('account')
      .select(['id', 'password_hash'])
      .where('name', '=', name)
      .where('kind', '=', 'user')
      .executeTakeFirst();
    if (!row?.password_hash) {
      // Spend the same time as a real check so timing does not reveal which usernames exist.
      await verifyPassword(
        password,
        `pbkdf2-sha256$${this.ctx.auth.pbkdf2Iterations}$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`,
      );
      return undefined;
    }
    if (!(await verifyPassword(password, row.password_hash))) return undefined;
    if (passwordIterations(row.password_hash) < this.ctx.auth.pbkdf2Iterations) {
      const hash = await hashPassword(password, this.ctx.auth.pbkdf2Iterations);
      await this.ctx.db.updateTable('account').set({ password_hash: hash }).where('id', '=', row.id).execute();
    }
    return requireUser(this.ctx.db, name);
  }

  async setPassword(name: string, password: string): Promise<void> {
    requirePassword(password);
    const u = await requireUser(this.ctx.db, name);
    const hash = await hashPassword(password, this.ctx.auth.pbkdf2Iterations);
    await this.ctx.db.updateTable('account').set({ password_hash: hash }).where('id', '=', u.id).execute();
    // Existing UI sessions end with a password change.
    await this.ctx.db.deleteFrom('session').where('account_id', '=', u.id).execute();
  }

  async setSuperuser(name: string, on: boolean): Promise<void> {
    const u = await requireUser(this.ctx.db, name);
    await this.ctx.db
      .updateTable('account')
      .set({ superuser: on ? 1 : 0 })
      .where('id', '=', u.id)
      .execute();
  }

  async setEmail(name: string, email: string): Promise<void> {
    requireEmail(email);
    const u = await requireUser(this.ctx.db, name);
    await this.ctx.db.updateTable('account').set({ email }).where('id', '=', u.id).execute();
  }

  async delete(name: string): Promise<void> {
    const u = await requireUser(this.ctx.db, name);
    if (this.isSuperuser(u)) {
      const others = await this.ctx.db
        .selectFrom('account')
        .select('name')
        .where('kind', '=', 'user')
        .where('superuser', '=', 1)
        .where('id', '!=', u.id)
        .execute();
      if (others.length === 0 && ![...this.ctx.auth.superUsers].some((n) => n !== name)) throw invalid('cannot delete the last superuser');
    }
    await deleteNamespace(this.ctx, u.id);
  }
}

/** Deletes a namespace account with its robots and repositories (the database cascades the rest). */
export async function deleteNamespace(ctx: AccountsContext, id: number): Promise<void> {
  const ns = await ctx.db.selectFrom('account').select('name').where('id', '=', id).executeTakeFirst();
  await ctx.db.transaction().execute(async (tx) => {
    await recordRepositoriesDeleted(tx, { namespaceId: id }, ctx.now());
    await tx.deleteFrom('repository').where('namespace_id', '=', id).execute();
    await tx.deleteFrom('account').where('owner_id', '=', id).execute();
    await tx.deleteFrom('account').where('id', '=', id).execute();
  });
  if (ns) await ctx.quota?.namespacesChanged([ns.name]);
}
