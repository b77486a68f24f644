// Team sync (Quay's FEATURE_TEAM_SYNCING): a team linked to a directory group (LDAP, config {group_dn}) or to a
// group of an OpenID provider's group claim (config {group_name}) has exactly the group's users as members.
// LDAP teams are synced by a scheduler when older than TEAM_RESYNC_STALE_TIME and at a directory sign-in;
// OIDC teams change for the signing-in user from the claim (a provider cannot be asked for a group's members).
// Robots in a synced team stay (they are in no directory); users cannot be added or removed by hand.
import type { IdentitySettings } from '../../config/schema-identity.js';
import type { AccountsContext } from '../accounts/context.js';
import { AccountError, forbidden, invalid, notFound } from '../accounts/errors.js';
import { requireOrg } from '../accounts/store.js';
import type { IdentityLinks } from './links.js';
import type { ExternalUser, IdentityProvider } from './provider.js';

export interface SyncConfig {
  group_dn?: string;
  group_name?: string;
}
export interface SyncState {
  service: string;
  config: SyncConfig;
  last_updated: number | null;
  last_error: string | null;
}
export interface SyncLog {
  warn(o: object, msg: string): void;
  info(o: object, msg: string): void;
}

export class TeamSyncService {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  log?: SyncLog;

  constructor(
    private readonly ctx: AccountsContext,
    private readonly settings: IdentitySettings,
    private readonly links: IdentityLinks,
    private readonly providers: Map<string, IdentityProvider>,
  ) {}

  get enabled(): boolean {
    return this.settings.teamSync;
  }

  /** Which services a team can be linked to here: Quay's `can_sync` ({service: 'ldap', base_dn} or {service: 'oidc', …}). */
  canSync(): Record<string, unknown> | undefined {
    if (!this.enabled) return undefined;
    if (this.settings.ldap) return { service: 'ldap', base_dn: this.settings.ldap.baseDn };
    const o = this.settings.oidc[0];
    return o ? { service: 'oidc', issuer_domain: o.OIDC_SERVER, providers: this.settings.oidc.map((p) => p.id) } : undefined;
  }

  private async team(orgName: string, team: string): Promise<{ id: number; name: string }> {
    const org = await requireOrg(this.ctx.db, orgName);
    const t = await this.ctx.db
      .selectFrom('team')
      .select(['id', 'name'])
      .where('org_id', '=', org.id)
      .where('name', '=', team)
      .executeTakeFirst();
    if (!t) throw notFound(`team "${team.slice(0, 64)}" does not exist in organization "${orgName}"`);
    return t;
  }

  async state(teamId: number): Promise<SyncState | undefined> {
    const r = await this.ctx.db
      .selectFrom('team_sync')
      .select(['service', 'config', 'last_updated', 'last_error'])
      .where('team_id', '=', teamId)
      .executeTakeFirst();
    return (
      r && {
        service: r.service,
        config: JSON.parse(r.config) as SyncConfig,
        last_updated: r.last_updated === null ? null : Number(r.last_updated),
        last_error: r.last_error,
      }
    );
  }

  async stateOf(orgName: string, team: string): Promise<SyncState | undefined> {
    return this.state((await this.team(orgName, team)).id);
  }

  /** POST …/team/{team}/syncing: links the team and syncs it at once (an LDAP group that does not exist is refused). */
  async link(orgName: string, team: string, body: { group_dn?: unknown; group_name?: unknown; service?: unknown }): Promise<SyncState> {
    if (!this.enabled) throw forbidden('team sync is off (FEATURE_TEAM_SYNCING)');
    const t = await this.team(orgName, team);
    if (t.name === 'owners') throw invalid('the owners team cannot be synced with a group (it must keep its administrators)');
    let service: string;
    let config: SyncConfig;
    const str = (v: unknown, what: string) => {
      if (typeof v !== 'string' || !v.trim() || v.length > 1024)
        throw invalid(`${what} must be a non-empty string of at most 1024 characters`);
      return v.trim();
    };
    if (body.group_dn !== undefined && this.providers.has('ldap')) {
      service = 'ldap';
      config = { group_dn: str(body.group_dn, 'group_dn') };
      await this.providers.get('ldap')!.groupMembers!(config.group_dn!); // refuses a group that does not exist
    } else if (body.group_name !== undefined || (body.group_dn !== undefined && !this.providers.has('ldap'))) {
      const oidc = this.settings.oidc;
      if (!oidc.length) throw invalid('no OpenID Connect provider is configured; link to an LDAP group with group_dn');
      const want = body.service === undefined ? undefined : String(body.service).replace(/^oidc:/, '');
      const p = want === undefined ? (oidc.length === 1 ? oidc[0] : undefined) : oidc.find((o) => o.id === want);
      if (!p) throw invalid(`name the provider in "service" (one of ${oidc.map((o) => o.id).join(', ')})`);
      service = `oidc:${p.id}`;
      config = { group_name: str(body.group_name ?? body.group_dn, 'group_name') };
    } else {
      throw invalid(
        this.providers.has('ldap')
          ? 'send {"group_dn": "cn=…,ou=groups"} (relative to LDAP_BASE_DN)'
          : 'send {"group_name": "…"}: a group of the OpenID provider\'s group claim',
      );
    }
    const now = this.ctx.now();
    await this.ctx.db
      .insertInto('team_sync')
      .values({ team_id: t.id, service, config: JSON.stringify(config), last_updated: null, last_error: null, created_at: now })
      .onConflict((oc) =>
        oc.column('team_id').doUpdateSet({ service, config: JSON.stringify(config), last_updated: null, last_error: null }),
      )
      .execute();
    if (service === 'ldap') await this.syncTeam(t.id);
    return (await this.state(t.id))!;
  }

  /** DELETE …/team/{team}/syncing: the team keeps its members and becomes editable again. */
  async unlink(orgName: string, team: string): Promise<void> {
    const t = await this.team(orgName, team);
    const r = await this.ctx.db.deleteFrom('team_sync').where('team_id', '=', t.id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(`team "${team}" is not synced with a group`);
  }

  /** Makes an LDAP-synced team's user members exactly the group's users (creating linked users never seen before). */
  async syncTeam(teamId: number): Promise<{ added: number; removed: number }> {
    const st = await this.state(teamId);
    if (!st || st.service !== 'ldap') return { added: 0, removed: 0 };
    const ldap = this.providers.get('ldap');
    if (!ldap?.groupMembers) return { added: 0, removed: 0 };
    let members: ExternalUser[];
    try {
      members = await ldap.groupMembers(st.config.group_dn!);
    } catch (e) {
      const msg = (e as Error).message;
      await this.ctx.db
        .updateTable('team_sync')
        .set({ last_error: msg.slice(0, 500) })
        .where('team_id', '=', teamId)
        .execute();
      throw e;
    }
    const want = new Set<number>();
    for (const m of members) want.add((await this.links.ensureUser('ldap', m)).id);
    const r = await this.setUsers(teamId, want);
    await this.ctx.db
      .updateTable('team_sync')
      .set({ last_updated: this.ctx.now(), last_error: null })
      .where('team_id', '=', teamId)
      .execute();
    this.log?.info({ event: 'team_synced', team_id: teamId, members: want.size, ...r }, 'team synced with its directory group');
    return r;
  }

  private async setUsers(teamId: number, want: Set<number>): Promise<{ added: number; removed: number }> {
    const have = await this.ctx.db
      .selectFrom('team_member')
      .innerJoin('account', 'account.id', 'team_member.account_id')
      .select('account.id')
      .where('team_member.team_id', '=', teamId)
      .where('account.kind', '=', 'user')
      .execute();
    const haveIds = new Set(have.map((h) => h.id));
    const remove = [...haveIds].filter((id) => !want.has(id));
    const add = [...want].filter((id) => !haveIds.has(id));
    if (remove.length)
      await this.ctx.db.deleteFrom('team_member').where('team_id', '=', teamId).where('account_id', 'in', remove).execute();
    for (const id of add) {
      await this.ctx.db
        .insertInto('team_member')
        .values({ team_id: teamId, account_id: id })
        .onConflict((oc) => oc.columns(['team_id', 'account_id']).doNothing())
        .execute();
    }
    return { added: add.length, removed: remove.length };
  }

  /**
   * At a sign-in through `provider`: LDAP syncs every stale LDAP team; OIDC puts the user into (or out of) each team
   * synced with a group of that provider, from the groups of the claim. Failures are logged, never refuse the sign-in.
   */
  async atSignIn(provider: string, accountId: number, user: ExternalUser): Promise<void> {
    if (!this.enabled) return;
    try {
      if (provider === 'ldap') {
        await this.syncStale('ldap');
        return;
      }
      const teams = await this.ctx.db.selectFrom('team_sync').select(['team_id', 'config']).where('service', '=', provider).execute();
      const groups = new Set(user.groups ?? []);
      for (const t of teams) {
        const g = (JSON.parse(t.config) as SyncConfig).group_name;
        if (g !== undefined && groups.has(g)) {
          await this.ctx.db
            .insertInto('team_member')
            .values({ team_id: t.team_id, account_id: accountId })
            .onConflict((oc) => oc.columns(['team_id', 'account_id']).doNothing())
            .execute();
        } else {
          await this.ctx.db.deleteFrom('team_member').where('team_id', '=', t.team_id).where('account_id', '=', accountId).execute();
        }
        await this.ctx.db.updateTable('team_sync').set({ last_updated: this.ctx.now() }).where('team_id', '=', t.team_id).execute();
      }
    } catch (e) {
      this.log?.warn({ event: 'team_sync_failed', provider, reason: (e as Error).message }, 'team sync at sign-in failed');
    }
  }

  /** Syncs every team of the service not synced within TEAM_RESYNC_STALE_TIME; a replica claims a team before syncing it. */
  async syncStale(service = 'ldap'): Promise<number> {
    const now = this.ctx.now();
    const cutoff = now - this.settings.resyncStaleMs;
    const due = await this.ctx.db
      .selectFrom('team_sync')
      .select(['team_id', 'last_updated'])
      .where('service', '=', service)
      .where((eb) => eb.or([eb('last_updated', 'is', null), eb('last_updated', '<', cutoff)]))
      .execute();
    let n = 0;
    for (const t of due) {
      // The claim: only the replica whose update changes last_updated syncs this team now.
      const claim = await this.ctx.db
        .updateTable('team_sync')
        .set({ last_updated: now })
        .where('team_id', '=', t.team_id)
        .where((eb) => (t.last_updated === null ? eb('last_updated', 'is', null) : eb('last_updated', '=', t.last_updated)))
        .executeTakeFirst();
      if (Number(claim.numUpdatedRows) !== 1) continue;
      try {
        await this.syncTeam(t.team_id);
        n++;
      } catch (e) {
        this.log?.warn({ event: 'team_sync_failed', team_id: t.team_id, reason: (e as Error).message }, 'team sync failed');
        if (!(e instanceof AccountError)) throw e;
      }
    }
    return n;
  }

  /** The scheduler: checks for stale LDAP teams every `everyMs` (default: a tenth of TEAM_RESYNC_STALE_TIME, 5 s to 5 min). */
  start(everyMs = Math.min(300_000, Math.max(5000, this.settings.resyncStaleMs / 10))): void {
    if (!this.enabled || !this.providers.has('ldap') || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.syncStale('ldap')
        .then(
          () => undefined,
          (e) => this.log?.warn({ event: 'team_sync_failed', reason: (e as Error).message }, 'team sync run failed'),
        )
        .finally(() => {
          this.running = undefined;
        });
    }, everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/** Whether a team's user membership follows a group (then it cannot be edited by hand). */
export async function isTeamSynced(ctx: AccountsContext, teamId: number): Promise<boolean> {
  return !!(await ctx.db.selectFrom('team_sync').select('team_id').where('team_id', '=', teamId).executeTakeFirst());
}
