// Whether a registry token still stands: checked on every /v2 request, from the data-model cache, so a
// change made on any replica (permission revoked, visibility changed, account deleted, robot token
// regenerated) refuses tokens issued before it within the cache's invalidation time, not at token expiry.
// Tokens with no subject (anonymous, or an external scanner's layer token) carry only what they grant.
import { hashHex } from '../../crypto/index.js';
import { CacheGroups } from '../../cache/types.js';
import type { RepoRole } from '../../db/types.js';
import type { AccountsContext, Principal } from './context.js';
import { atLeast, type PermissionService } from './permissions.js';

export interface AccountStanding {
  id: number;
  kind: 'user' | 'robot' | 'org';
  name: string;
  enabled: boolean;
  superuser: boolean;
  ownerId: number | null;
  cred: string | null;
}

const NEEDED: Record<string, RepoRole> = { pull: 'read', push: 'write', delete: 'write' };

export class TokenStanding {
  constructor(
    private readonly ctx: AccountsContext,
    private readonly perms: PermissionService,
  ) {}

  /** An account by name, with the fingerprint of its robot token (robots only); cached in group `perm`. */
  async account(name: string): Promise<AccountStanding | undefined> {
    const load = async (): Promise<AccountStanding | undefined> => {
      const a = await this.ctx.db
        .selectFrom('account')
        .select(['id', 'name', 'kind', 'enabled', 'superuser', 'owner_id', 'token_digest'])
        .where('name', '=', name)
        .executeTakeFirst();
      if (!a) return undefined;
      return {
        id: a.id,
        kind: a.kind,
        name: a.name,
        enabled: a.enabled === 1,
        ownerId: a.owner_id,
        superuser: a.kind === 'user' && (a.superuser === 1 || this.ctx.auth.superUsers.has(a.name)),
        cred: a.kind === 'robot' && a.token_digest ? credentialFingerprint(a.token_digest) : null,
      };
    };
    return this.ctx.cache ? this.ctx.cache.fetch(CacheGroups.perm, `acct:${name}`, load) : load();
  }

  /** The credential fingerprint a token for `subject` carries (robots: their current token), if any. */
  async credentialOf(subject: string): Promise<string | undefined> {
    if (!subject) return undefined;
    return (await this.account(subject))?.cred ?? undefined;
  }

  /** Why a registry token of `subject` carrying `cred` no longer stands (undefined: it does). */
  async credentialRefusal(subject: string, cred: string | undefined): Promise<string | undefined> {
    if (!subject || this.ctx.auth.open) return undefined;
    const a = await this.account(subject);
    // An account that is gone acts as anonymous with the token's grants (registry-access.ts); a robot whose token changed does not.
    if (a && a.cred !== (cred ?? null)) return 'the robot token this registry token was issued for has been regenerated: log in again';
    return undefined;
  }

  /** Why the account `subject` may no longer do `action` on `repository` (undefined: it may). */
  async roleRefusal(subject: string, repository: string, action: string): Promise<string | undefined> {
    if (this.ctx.auth.open || !NEEDED[action]) return undefined;
    const a = await this.account(subject);
    if (!a || a.kind === 'org') return undefined;
    const repo = await this.perms.findRepo(repository);
    if (!repo) return undefined; // a push creating it: the token endpoint already checked the namespace
    const p: Principal = { kind: a.kind, id: a.id, name: a.name, superuser: a.superuser, ownerId: a.ownerId };
    if (!a.enabled) return `requested access to "${repository}" is denied: ${subject} is disabled`;
    const role = await this.perms.role(p, repo);
    if (atLeast(role, NEEDED[action])) return undefined;
    return `requested access to "${repository}" is denied: ${subject} no longer has ${NEEDED[action]} permission`;
  }
}

/** A short digest of a robot's stored token digest: changes when the token is regenerated, reveals nothing. */
export function credentialFingerprint(tokenDigest: string): string {
  return hashHex('sha256', `berth-robot-cred:${tokenDigest}`).slice(0, 16);
}
