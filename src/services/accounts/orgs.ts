// Organizations: an account that owns repositories, robots and teams; its creator lands in the "owners" team (admin).
import type { AccountsContext, AccountRow, Principal } from './context.js';
import { conflict, forbidden } from './errors.js';
import { requireEmail, requireNamespaceName } from './names.js';
import { findAccount, isRestrictedUser, requireOrg } from './store.js';
import { deleteNamespace } from './users.js';

export class OrgService {
  constructor(private readonly ctx: AccountsContext) {}

  async create(name: string, email: string | undefined, creator: Principal): Promise<AccountRow> {
    if (creator.kind !== 'user') throw forbidden('only a signed-in user can create an organization');
    if (!creator.superuser && (await isRestrictedUser(this.ctx.db, creator.id)))
      throw forbidden('restricted users (LDAP_RESTRICTED_USER_FILTER) cannot create organizations');
    requireNamespaceName(name, 'organization name');
    if (email !== undefined) requireEmail(email);
    if (await findAccount(this.ctx.db, name)) throw conflict(`the name "${name}" is already taken by a user or organization`);
    const now = this.ctx.now();
    await this.ctx.db.transaction().execute(async (tx) => {
      const org = await tx
        .insertInto('account')
        .values({
          name,
          kind: 'org',
          email: email ?? null,
          password_hash: null,
          token_digest: null,
          owner_id: null,
          created_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const team = await tx
        .insertInto('team')
        .values({ org_id: org.id, name: 'owners', role: 'admin', description: 'Administrators of the organization', created_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
      await tx.insertInto('team_member').values({ team_id: team.id, account_id: creator.id }).execute();
    });
    return requireOrg(this.ctx.db, name);
  }

  get(name: string): Promise<AccountRow> {
    return requireOrg(this.ctx.db, name);
  }

  async delete(name: string): Promise<void> {
    const org = await requireOrg(this.ctx.db, name);
    await deleteNamespace(this.ctx, org.id);
  }
}
