// Robot accounts "owner+short", owned by a user or an organization, with a generated token (stored as a digest).
import { randomToken, safeEqual, secretDigest } from '../../crypto/index.js';
import type { AccountsContext } from './context.js';
import { conflict, notFound } from './errors.js';
import { requireRobotShortName } from './names.js';
import { findAccount, requireNamespace } from './store.js';

export interface RobotView {
  name: string;
  created_at: number;
  token?: string;
}

export class RobotService {
  constructor(private readonly ctx: AccountsContext) {}

  async create(owner: string, short: string): Promise<RobotView & { token: string }> {
    const ns = await requireNamespace(this.ctx.db, owner);
    requireRobotShortName(short);
    const name = `${ns.name}+${short}`;
    if (await findAccount(this.ctx.db, name)) throw conflict(`robot "${name}" already exists`);
    const token = newRobotToken();
    const now = this.ctx.now();
    await this.ctx.db
      .insertInto('account')
      .values({
        name,
        kind: 'robot',
        email: null,
        password_hash: null,
        token_digest: secretDigest(token),
        owner_id: ns.id,
        created_at: now,
      })
      .execute();
    return { name, created_at: now, token };
  }

  async list(owner: string): Promise<RobotView[]> {
    const ns = await requireNamespace(this.ctx.db, owner);
    return this.ctx.db
      .selectFrom('account')
      .select(['name', 'created_at'])
      .where('owner_id', '=', ns.id)
      .where('kind', '=', 'robot')
      .orderBy('name')
      .execute();
  }

  async get(owner: string, short: string): Promise<RobotView & { id: number }> {
    const ns = await requireNamespace(this.ctx.db, owner);
    const r = await this.ctx.db
      .selectFrom('account')
      .select(['id', 'name', 'created_at'])
      .where('name', '=', `${ns.name}+${short}`)
      .where('kind', '=', 'robot')
      .executeTakeFirst();
    if (!r) throw notFound(`robot "${owner}+${short.slice(0, 64)}" does not exist`);
    return r;
  }

  async regenerate(owner: string, short: string): Promise<RobotView & { token: string }> {
    const r = await this.get(owner, short);
    const token = newRobotToken();
    await this.ctx.db
      .updateTable('account')
      .set({ token_digest: secretDigest(token) })
      .where('id', '=', r.id)
      .execute();
    return { name: r.name, created_at: r.created_at, token };
  }

  async delete(owner: string, short: string): Promise<void> {
    const r = await this.get(owner, short);
    await this.ctx.db.deleteFrom('account').where('id', '=', r.id).execute();
  }

  /** Checks "owner+short" and its token; undefined when either is wrong. */
  async check(name: string, token: string): Promise<{ id: number; name: string; owner_id: number | null } | undefined> {
    const r = await this.ctx.db
      .selectFrom('account')
      .select(['id', 'name', 'owner_id', 'token_digest', 'enabled'])
      .where('name', '=', name)
      .where('kind', '=', 'robot')
      .executeTakeFirst();
    if (!r?.token_digest || r.enabled !== 1) return undefined;
    return safeEqual(r.token_digest, secretDigest(token)) ? r : undefined;
  }
}

function newRobotToken(): string {
  // 40 bytes of randomness; the uppercase-free base64url alphabet is safe in every client's auth file.
  return randomToken(40);
}
