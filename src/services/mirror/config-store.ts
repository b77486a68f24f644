// The mirror configuration of a repository (repo_mirror) and the repository's state, with Quay's API
// shapes: create, read, change, and the sync-now / cancel switches. Credentials are sealed with the database
// secret key and never returned. Every change checks everything first and then writes one row.
import type { Selectable } from 'kysely';
import type { RepoMirrorTable, RepositoryState } from '../../db/types-mirror.js';
import type { ServiceContext } from '../context.js';
import { AccountError, invalid, notFound } from '../accounts/errors.js';
import { findAccount } from '../accounts/store.js';
import { namespaceOf } from '../accounts/roles.js';
import { databaseSecretBox } from '../../startup/secret-key.js';
import { requireTagGlobs } from './tag-rules.js';
import { parseExternalReference } from './reference.js';
import { formatMirrorDate, parseMirrorDate } from './dates.js';
import { CacheGroups } from '../../cache/types.js';
import { maskProxyPassword } from '../../upstream/index.js';
import { mergeProxySettings } from '../proxy-settings.js';

/** Quay: a failed sync is retried this many times before it waits for the next interval. */
export const MAX_SYNC_RETRIES = 3;
export const REPOSITORY_STATES: readonly RepositoryState[] = ['NORMAL', 'READ_ONLY', 'MIRROR'];

export type MirrorRow = Selectable<RepoMirrorTable>;

export interface RegistryConfig {
  verify_tls: boolean;
  unsigned_images?: boolean;
  proxy?: { http_proxy?: string | null; https_proxy?: string | null; no_proxy?: string | null };
}

/** What POST and PUT …/mirror take (already shaped by the API's schema; the values are checked here). */
export interface MirrorInput {
  is_enabled?: boolean;
  external_reference?: string;
  external_registry_username?: string | null;
  external_registry_password?: string | null;
  /** proxy: anything; checked here (proxy-settings.ts). */
  external_registry_config?: Partial<Omit<RegistryConfig, 'proxy'>> & { proxy?: unknown };
  sync_interval?: number;
  sync_start_date?: string;
  robot_username?: string | null;
  root_rule?: { rule_kind: string; rule_value: unknown };
}

/** GET …/mirror: Quay's ViewMirrorConfig plus last_sync, last_error and status_message (Quay's web UI fields). */
export interface MirrorView {
  is_enabled: boolean;
  mirror_type: 'PULL';
  external_reference: string;
  external_registry_username: string | null;
  external_registry_config: RegistryConfig;
  sync_interval: number;
  sync_start_date: string | null;
  sync_expiration_date: string | null;
  sync_retries_remaining: number;
  sync_status: MirrorRow['sync_status'];
  root_rule: { rule_kind: 'tag_glob_csv'; rule_value: string[] };
  robot_username: string | null;
  last_sync: string | null;
  last_error: string | null;
  status_message: string;
}

/** One change a request made (Quay logs each as repo_mirror_config_changed with changed/to). */
export interface MirrorChange {
  changed: string;
  to: unknown;
}

const MAX_INTERVAL = 365 * 24 * 3600;

export class MirrorConfigStore {
  constructor(private readonly ctx: ServiceContext) {}

  private box() {
    return databaseSecretBox(this.ctx.config);
  }

  async repository(full: string): Promise<{ id: number; state: RepositoryState }> {
    const r = await this.ctx.db.selectFrom('repository').select(['id', 'state']).where('name', '=', full).executeTakeFirst();
    if (!r) throw notFound(`repository "${full.slice(0, 255)}" does not exist`);
    return r;
  }

  async row(full: string): Promise<MirrorRow> {
    const repo = await this.repository(full);
    const row = await this.ctx.db.selectFrom('repo_mirror').selectAll().where('repository_id', '=', repo.id).executeTakeFirst();
    if (!row) throw notFound(`repository "${full}" has no mirror configuration`);
    return row;
  }

  async setState(full: string, state: string): Promise<RepositoryState> {
    if (!REPOSITORY_STATES.includes(state as RepositoryState))
      throw invalid(`${String(state).slice(0, 40)} is not a valid repository state: use NORMAL, READ_ONLY or MIRROR`);
    const repo = await this.repository(full);
    await this.ctx.db
      .updateTable('repository')
      .set({ state: state as RepositoryState })
      .where('id', '=', repo.id)
      .execute();
    await this.ctx.cache?.invalidate(CacheGroups.perm);
    return state as RepositoryState;
  }

  view(row: MirrorRow, full: string): MirrorView {
    const rules = JSON.parse(row.root_rule) as string[];
    let username: string | null = null;
    if (row.external_registry_username) {
      try {
        username = this.box().open(row.external_registry_username, `repo_mirror:${row.repository_id}:username`);
      } catch {
        username = '(invalid. please re-enter)';
      }
    }
    const msg: Record<MirrorRow['sync_status'], string> = {
      NEVER_RUN: 'Scheduled',
      SYNC_NOW: 'Scheduled now',
      SYNCING: 'Syncing',
      SYNC_SUCCESS: 'Last sync succeeded',
      SYNC_FAILED: `Last sync failed${row.last_error ? `: ${row.last_error}` : ''}`,
      SYNC_CANCEL: 'Cancelled: no sync until "sync now"',
    };
    void full;
    return {
      is_enabled: row.is_enabled === 1,
      mirror_type: 'PULL',
      external_reference: row.external_reference,
      external_registry_username: username,
      external_registry_config: viewRegistryConfig(JSON.parse(row.external_registry_config) as RegistryConfig),
      sync_interval: row.sync_interval,
      sync_start_date: formatMirrorDate(row.sync_start_date),
      sync_expiration_date: formatMirrorDate(row.sync_expiration_date),
      sync_retries_remaining: row.sync_retries_remaining,
      sync_status: row.sync_status,
      root_rule: { rule_kind: 'tag_glob_csv', rule_value: rules },
      robot_username: row.robot_username,
      last_sync: formatMirrorDate(row.last_sync),
      last_error: row.last_error,
      status_message: msg[row.sync_status],
    };
  }

  /** The upstream credentials of a mirror (for the sync only). */
  credentials(row: MirrorRow): { username: string; password: string } | undefined {
    if (!row.external_registry_username) return undefined;
    const username = this.box().open(row.external_registry_username, `repo_mirror:${row.repository_id}:username`);
    const password = row.external_registry_password
      ? this.box().open(row.external_registry_password, `repo_mirror:${row.repository_id}:password`)
      : '';
    return { username, password };
  }

  /** POST …/mirror: creates the configuration and puts the repository in the MIRROR state (as Quay). */
  async create(full: string, input: MirrorInput): Promise<MirrorChange[]> {
    const repo = await this.repository(full);
    const exists = await this.ctx.db
      .selectFrom('repo_mirror')
      .select('repository_id')
      .where('repository_id', '=', repo.id)
      .executeTakeFirst();
    if (exists) throw new AccountError('conflict', `mirror configuration already exists for repository ${full}`);
    for (const k of ['external_reference', 'sync_interval', 'sync_start_date', 'root_rule'] as const)
      if (input[k] === undefined) throw invalid(`${k} is required to create a mirror configuration`);
    const ref = parseExternalReference(input.external_reference);
    const interval = requireInterval(input.sync_interval);
    const start = parseMirrorDate(input.sync_start_date!);
    const rules = requireRule(input.root_rule!);
    const robot = input.robot_username ? await this.requireRobot(full, input.robot_username) : null;
    const cfg = mergeRegistryConfig({ verify_tls: this.ctx.config.raw.REPO_MIRROR_TLS_VERIFY }, input.external_registry_config);
    if (input.external_registry_password && !input.external_registry_username)
      throw invalid('Unable to set a new password without also specifying a username.');
    const now = this.ctx.now();
    await this.ctx.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('repo_mirror')
        .values({
          repository_id: repo.id,
          is_enabled: input.is_enabled === false ? 0 : 1,
          external_reference: `${ref.host}/${ref.repository}`,
          external_registry_username: input.external_registry_username
            ? this.box().seal(input.external_registry_username, `repo_mirror:${repo.id}:username`)
            : null,
          external_registry_password: input.external_registry_password
            ? this.box().seal(input.external_registry_password, `repo_mirror:${repo.id}:password`)
            : null,
          external_registry_config: JSON.stringify(cfg),
          robot_username: robot,
          root_rule: JSON.stringify(rules),
          sync_interval: interval,
          sync_start_date: start,
          sync_expiration_date: null,
          sync_retries_remaining: MAX_SYNC_RETRIES,
          sync_status: 'NEVER_RUN',
          lease_owner: null,
          last_sync: null,
          last_error: null,
          progress: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await tx.updateTable('repository').set({ state: 'MIRROR' }).where('id', '=', repo.id).execute();
    });
    if (robot) await this.grantWrite(repo.id, robot);
    await this.ctx.cache?.invalidate(CacheGroups.perm);
    return [{ changed: 'external_reference', to: `${ref.host}/${ref.repository}` }];
  }

  /** PUT …/mirror: changes the given fields (all checked before anything is written). */
  async update(full: string, input: MirrorInput): Promise<MirrorChange[]> {
    const row = await this.row(full);
    const set: Partial<MirrorRow> = {};
    const changes: MirrorChange[] = [];
    if (input.is_enabled !== undefined) {
      set.is_enabled = input.is_enabled ? 1 : 0;
      changes.push({ changed: 'is_enabled', to: input.is_enabled });
    }
    if (input.external_reference !== undefined) {
      if (input.external_reference === '') throw invalid('Empty string is an invalid repository location.');
      const ref = parseExternalReference(input.external_reference);
      set.external_reference = `${ref.host}/${ref.repository}`;
      changes.push({ changed: 'external_reference', to: set.external_reference });
    }
    let robot: string | null | undefined;
    if (input.robot_username !== undefined) {
      robot = input.robot_username ? await this.requireRobot(full, input.robot_username) : null;
      set.robot_username = robot;
      changes.push({ changed: 'robot_username', to: robot });
    }
    if (input.sync_start_date !== undefined) {
      set.sync_start_date = parseMirrorDate(input.sync_start_date);
      changes.push({ changed: 'sync_start_date', to: formatMirrorDate(set.sync_start_date) });
    }
    if (input.sync_interval !== undefined) {
      set.sync_interval = requireInterval(input.sync_interval);
      changes.push({ changed: 'sync_interval', to: set.sync_interval });
    }
    const hasUser = input.external_registry_username !== undefined;
    const hasPass = input.external_registry_password !== undefined;
    if (hasPass && !hasUser) throw invalid('Unable to set a new password without also specifying a username.');
    if (hasUser) {
      const u = input.external_registry_username;
      if (hasPass && (u === null || u === '') && input.external_registry_password)
        throw invalid('Unable to delete username while setting a password.');
      set.external_registry_username = u ? this.box().seal(u, `repo_mirror:${row.repository_id}:username`) : null;
      if (hasPass || !u) {
        const p = input.external_registry_password;
        set.external_registry_password = u && p ? this.box().seal(p, `repo_mirror:${row.repository_id}:password`) : null;
      }
      changes.push({ changed: 'external_registry_username', to: u || null });
      if (hasPass) changes.push({ changed: 'external_registry_password', to: input.external_registry_password ? '********' : null });
    }
    if (input.external_registry_config !== undefined) {
      const cfg = mergeRegistryConfig(JSON.parse(row.external_registry_config) as RegistryConfig, input.external_registry_config);
      set.external_registry_config = JSON.stringify(cfg);
      changes.push({ changed: 'external_registry_config', to: cfg.proxy ? { ...cfg, proxy: '(set)' } : cfg });
    }
    if (input.root_rule !== undefined) {
      const rules = requireRule(input.root_rule);
      set.root_rule = JSON.stringify(rules);
      changes.push({ changed: 'mirror_rule', to: rules });
    }
    if (!changes.length) return changes;
    set.updated_at = this.ctx.now();
    await this.ctx.db.updateTable('repo_mirror').set(set).where('repository_id', '=', row.repository_id).execute();
    if (robot) await this.grantWrite(row.repository_id, robot);
    return changes;
  }

  /** POST …/mirror/sync-now: due now (refused while a sync runs, as in Quay). */
  async syncNow(full: string): Promise<void> {
    const row = await this.row(full);
    const r = await this.ctx.db
      .updateTable('repo_mirror')
      .set({
        sync_status: 'SYNC_NOW',
        sync_expiration_date: null,
        lease_owner: null,
        sync_retries_remaining: Math.max(row.sync_retries_remaining, 1),
        updated_at: this.ctx.now(),
      })
      .where('repository_id', '=', row.repository_id)
      .where('sync_status', '!=', 'SYNCING')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw notFound(`a sync of ${full} is running now; cancel it first or wait for it to finish`);
  }

  /** POST …/mirror/sync-cancel: stops a running or requested sync; no sync until sync-now (as in Quay). */
  async cancel(full: string): Promise<void> {
    const row = await this.row(full);
    const r = await this.ctx.db
      .updateTable('repo_mirror')
      .set({
        sync_status: 'SYNC_CANCEL',
        sync_expiration_date: null,
        lease_owner: null,
        sync_retries_remaining: 0,
        updated_at: this.ctx.now(),
      })
      .where('repository_id', '=', row.repository_id)
      .where('sync_status', 'in', ['SYNCING', 'SYNC_NOW'])
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0)
      throw notFound(`no sync of ${full} is running or requested (status ${row.sync_status}), so there is nothing to cancel`);
  }

  /** A robot of the repository's namespace ("namespace+name"); Quay gives it write on the repository. */
  private async requireRobot(full: string, name: string): Promise<string> {
    const a = await findAccount(this.ctx.db, name);
    if (!a || a.kind !== 'robot') throw invalid(`robot_username "${name.slice(0, 100)}" is not a robot account`);
    if (name.split('+')[0] !== namespaceOf(full))
      throw invalid(`robot "${name.slice(0, 100)}" is not in namespace "${namespaceOf(full)}": a mirror uses a robot of its own namespace`);
    return a.name;
  }

  private async grantWrite(repositoryId: number, robot: string): Promise<void> {
    const a = await findAccount(this.ctx.db, robot);
    if (!a) return;
    const have = await this.ctx.db
      .selectFrom('repository_user_permission')
      .select('role')
      .where('repository_id', '=', repositoryId)
      .where('account_id', '=', a.id)
      .executeTakeFirst();
    if (have && have.role !== 'read') return;
    await this.ctx.db
      .insertInto('repository_user_permission')
      .values({ repository_id: repositoryId, account_id: a.id, role: 'write' })
      .onConflict((oc) => oc.columns(['repository_id', 'account_id']).doUpdateSet({ role: 'write' }))
      .execute();
    await this.ctx.cache?.invalidate(CacheGroups.perm);
  }
}

function requireInterval(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 60 || v > MAX_INTERVAL)
    throw invalid(`sync_interval must be a whole number of seconds from 60 to ${MAX_INTERVAL}`);
  return v;
}

function requireRule(rule: { rule_kind: string; rule_value: unknown }): string[] {
  if (rule.rule_kind !== 'tag_glob_csv') throw invalid('validation failed: rule_kind must be "tag_glob_csv"');
  return requireTagGlobs(rule.rule_value);
}

/** The stored configuration as the API shows it: a proxy URL's password masked (sent back unchanged, it is kept). */
function viewRegistryConfig(cfg: RegistryConfig): RegistryConfig {
  if (!cfg.proxy) return cfg;
  const proxy = { ...cfg.proxy };
  for (const k of ['http_proxy', 'https_proxy'] as const) if (proxy[k]) proxy[k] = maskProxyPassword(proxy[k]);
  return { ...cfg, proxy };
}

function mergeRegistryConfig(base: RegistryConfig, given: MirrorInput['external_registry_config']): RegistryConfig {
  const out: RegistryConfig = { ...base };
  if (!given) return out;
  if (given.verify_tls !== undefined) out.verify_tls = given.verify_tls;
  if (given.unsigned_images !== undefined) out.unsigned_images = given.unsigned_images;
  if (given.proxy !== undefined) out.proxy = mergeProxySettings(base.proxy, given.proxy, 'external_registry_config.proxy');
  return out;
}
