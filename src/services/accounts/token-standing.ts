// Whether a registry token still stands: checked on every /v2 request, from the data-model cache, so a
// change made on any replica (permission revoked, visibility changed, account deleted, robot token
// regenerated, app token revoked) refuses tokens issued before it within the cache's invalidation time, not at token expiry.
// Tokens with no subject (anonymous, or an external scanner's layer token) carry only what they grant.
// Without the cache (DATA_MODEL_CACHE_CONFIG engine none) one statement per request reads the account, the
// repository and the role granted there (readSnapshot), shared by the token check and the access check.
import { sql } from 'kysely';
import { hashHex } from '../../crypto/index.js';
import { CacheGroups } from '../../cache/types.js';
import type { RepoRole } from '../../db/types.js';
import type { AccountsContext, Principal } from './context.js';
import { atLeast, namespaceOf, type PermissionService, type RepoFacts } from './permissions.js';

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
const ROLE_OF_RANK: (RepoRole | undefined)[] = [undefined, 'read', 'write', 'admin'];

/** What one statement reads for a request without the cache: the account, the repository, the role granted there. */
interface Snapshot {
  subject: string;
  account?: AccountStanding;
  repo?: RepoFacts;
  /** The namespace's account id (the repository's, or the account named by its first path component). */
  nsId?: number;
  /** Granted directly, through teams, or as an admin of the owning organization. */
  granted?: RepoRole;
}

export class TokenStanding {
  /** Without the cache: the snapshot of each request (keyed by its RegistryRequest object), read once. */
  private readonly snapshots = new WeakMap<object, Promise<Snapshot>>();

  constructor(
    private readonly ctx: AccountsContext,
    private readonly perms: PermissionService,
  ) {}

  /** The request's snapshot when there is no cache and the request names a repository; otherwise undefined. */
  private snapshot(subject: string, request?: { name?: string }): Promise<Snapshot> | undefined {
    if (this.ctx.cache || !request?.name) return undefined;
    let s = this.snapshots.get(request);
    if (!s) {
      s = this.readSnapshot(subject, request.name);
      this.snapshots.set(request, s);
    }
    return s;
  }

  private async readSnapshot(subject: string, repository: string): Promise<Snapshot> {
    const rank = (col: string) => sql.raw(`max(case ${col} when 'admin' then 3 when 'write' then 2 when 'read' then 1 else 0 end)`);
    const ns = namespaceOf(repository);
    const { rows } = await sql<{
      id: number;
      name: string;
      kind: 'user' | 'robot' | 'org';
      enabled: number;
      superuser: number;
      owner_id: number | null;
      token_digest: string | null;
      repo_id: number | null;
      namespace_id: number | null;
      visibility: 'public' | 'private' | null;
      ns_id: number | null;
      direct_rank: number | null;
      team_rank: number | null;
      org_admin: number;
    }>`select a.id, a.name, a.kind, a.enabled, a.superuser, a.owner_id, a.token_digest,
        r.id as repo_id, r.namespace_id, r.visibility,
        coalesce(r.namespace_id, (select n.id from account n where n.name = ${ns})) as ns_id,
        (select ${rank('p.role')} from repository_user_permission p where p.repository_id = r.id and p.account_id = a.id) as direct_rank,
        (select ${rank('rtp.role')} from repository_team_permission rtp join team_member tm on tm.team_id = rtp.team_id
          where rtp.repository_id = r.id and tm.account_id = a.id) as team_rank,
        case when exists (select 1 from team t join team_member tm on tm.team_id = t.id
          where t.org_id = coalesce(r.namespace_id, (select n.id from account n where n.name = ${ns}))
            and tm.account_id = a.id and t.role = 'admin') then 1 else 0 end as org_admin
      from account a left join repository r on r.name = ${repository}
      where a.name = ${subject}`.execute(this.ctx.db);
    const a = rows[0];
    if (!a) return { subject };
    const granted = Math.max(Number(a.direct_rank ?? 0), Number(a.team_rank ?? 0), Number(a.org_admin) ? 3 : 0);
    return {
      subject,
      account: this.standingOf(a),
      repo:
        a.repo_id === null
          ? undefined
          : { id: a.repo_id, name: repository, namespace_id: a.namespace_id, visibility: a.visibility ?? 'private' },
      nsId: a.ns_id ?? undefined,
      granted: ROLE_OF_RANK[granted],
    };
  }

  private standingOf(a: {
    id: number;
    name: string;
    kind: 'user' | 'robot' | 'org';
    enabled: number;
    superuser: number;
    owner_id: number | null;
    token_digest: string | null;
  }): AccountStanding {
    return {
      id: a.id,
      kind: a.kind,
      name: a.name,
      enabled: Number(a.enabled) === 1,
      ownerId: a.owner_id,
      superuser: a.kind === 'user' && (Number(a.superuser) === 1 || this.ctx.auth.superUsers.has(a.name)),
      cred: a.kind === 'robot' && a.token_digest ? credentialFingerprint(a.token_digest) : null,
    };
  }

  /** An account by name, with the fingerprint of its robot token (robots only); cached in group `perm`. */
  async account(name: string): Promise<AccountStanding | undefined> {
    const load = async (): Promise<AccountStanding | undefined> => {
      const a = await this.ctx.db
        .selectFrom('account')
        .select(['id', 'name', 'kind', 'enabled', 'superuser', 'owner_id', 'token_digest'])
        .where('name', '=', name)
        .executeTakeFirst();
      return a && this.standingOf(a);
    };
    return this.ctx.cache ? this.ctx.cache.fetch(CacheGroups.perm, `acct:${name}`, load) : load();
  }

  /** The credential fingerprint a token for `subject` carries (robots: their current token), if any. */
  async credentialOf(subject: string): Promise<string | undefined> {
    if (!subject) return undefined;
    return (await this.account(subject))?.cred ?? undefined;
  }

  /** Why a registry token of `subject` carrying `cred` no longer stands (undefined: it does). */
  async credentialRefusal(subject: string, cred: string | undefined, request?: { name?: string }): Promise<string | undefined> {
    if (!subject || this.ctx.auth.open) return undefined;
    const snap = this.snapshot(subject, request);
    const a = snap ? (await snap).account : await this.account(subject);
    // An account that is gone acts as anonymous with the token's grants (registry-access.ts); a robot whose token changed does not.
    if (a && a.cred !== (cred ?? null)) return 'the robot token this registry token was issued for has been regenerated: log in again';
    return undefined;
  }

  /** Why a registry token issued for the app token `app` (its id) no longer stands: revoked, expired, or app tokens turned off. */
  async appTokenRefusal(app: string | undefined): Promise<string | undefined> {
    if (app === undefined || this.ctx.auth.open) return undefined;
    const gone = 'the app-specific token this registry token was issued for has been revoked or has expired: log in again';
    if (!/^\d{1,15}$/.test(app) || !this.ctx.auth.appTokens) return gone;
    const id = Number(app);
    const load = async () => {
      const r = await this.ctx.db.selectFrom('app_token').select('expires_at').where('id', '=', id).executeTakeFirst();
      return r ? { expiresAt: r.expires_at === null ? null : Number(r.expires_at) } : null;
    };
    const t = this.ctx.cache ? await this.ctx.cache.fetch(CacheGroups.perm, `app:${id}`, load) : await load();
    return t && (t.expiresAt === null || t.expiresAt >= this.ctx.now()) ? undefined : gone;
  }

  /** Why the account `subject` may no longer do `action` on `repository` (undefined: it may). */
  async roleRefusal(subject: string, repository: string, action: string, request?: { name?: string }): Promise<string | undefined> {
    if (this.ctx.auth.open || !NEEDED[action]) return undefined;
    const snap = request?.name === repository ? await this.snapshot(subject, request) : undefined;
    const a = snap && snap.subject === subject ? snap.account : await this.account(subject);
    // The token was issued to an account (the caller is not anonymous): one deleted since refuses it.
    if (!a) return `requested access to "${repository}" is denied: ${subject} no longer exists`;
    if (a.kind === 'org') return undefined;
    const repo = snap && snap.subject === subject ? snap.repo : await this.perms.findRepo(repository);
    if (!repo) return undefined; // a push creating it: the token endpoint already checked the namespace
    const p: Principal = { kind: a.kind, id: a.id, name: a.name, superuser: a.superuser, ownerId: a.ownerId };
    if (!a.enabled) return `requested access to "${repository}" is denied: ${subject} is disabled`;
    const role = snap && snap.subject === subject ? this.perms.roleGiven(p, repo, snap.nsId, snap.granted) : await this.perms.role(p, repo);
    if (atLeast(role, NEEDED[action])) return undefined;
    return `requested access to "${repository}" is denied: ${subject} no longer has ${NEEDED[action]} permission`;
  }
}

/** A short digest of a robot's stored token digest: changes when the token is regenerated, reveals nothing. */
export function credentialFingerprint(tokenDigest: string): string {
  return hashHex('sha256', `berth-robot-cred:${tokenDigest}`).slice(0, 16);
}
