// The proxy cache configuration of organizations (table proxy_cache_config): Quay's fields, the username
// and password sealed with the database secret key, and Berth's outbound proxy to the upstream (sealed JSON).
// Read through the data-model cache (group `proxycache`, the row as stored, credentials still sealed), which
// every write here invalidates on every replica.
import type { SecretBox } from '../../crypto/index.js';
import { CacheGroups } from '../../cache/types.js';
import type { ServiceContext } from '../context.js';
import { invalid, notFound } from '../accounts/errors.js';
import { parseUpstreamRegistry, UpstreamReferenceError, type ProxySettings, type UpstreamRegistry } from '../../upstream/index.js';
import { mergeProxySettings, usesProxy } from '../proxy-settings.js';

/** Quay's default expiration_s (one day). */
export const DEFAULT_EXPIRATION_S = 86_400;
/** The stored row, as cached (username and password still sealed; null: the organization has none). */
interface StoredRow {
  upstream_registry: string;
  username: string | null;
  password: string | null;
  expiration_s: number;
  insecure: number;
  /** Sealed JSON of the proxy settings, or null. */
  proxy: string | null;
}

export interface ProxyCacheInput {
  upstream_registry?: unknown;
  upstream_registry_username?: unknown;
  upstream_registry_password?: unknown;
  expiration_s?: unknown;
  insecure?: unknown;
  /** Berth: the outbound proxy to the upstream, in the mirror's shape ({http_proxy, https_proxy, no_proxy}). */
  proxy?: unknown;
}

export interface ProxyCacheConfig {
  org: string;
  upstreamRegistry: string;
  registry: UpstreamRegistry;
  username?: string;
  password?: string;
  expirationS: number;
  insecure: boolean;
  /** The outbound proxy to the upstream (src/upstream/proxy.ts), when one is set. */
  proxy?: ProxySettings;
}

/** Validates a request body the way Quay's schema does (upstream_registry required), with a reason per field. */
export function parseProxyCacheInput(org: string, b: ProxyCacheInput | undefined): ProxyCacheConfig {
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw invalid('the body must be a JSON object with upstream_registry');
  if (typeof b.upstream_registry !== 'string' || !b.upstream_registry.trim())
    throw invalid('upstream_registry is required (host[:port] and an optional namespace, for example docker.io/library)');
  let registry: UpstreamRegistry;
  try {
    registry = parseUpstreamRegistry(b.upstream_registry);
  } catch (e) {
    if (e instanceof UpstreamReferenceError) throw invalid(`upstream_registry: ${e.message}`);
    throw e;
  }
  const opt = (v: unknown, field: string): string | undefined => {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' || v.length > 1024) throw invalid(`${field} must be a string of at most 1024 characters`);
    return v;
  };
  const username = opt(b.upstream_registry_username, 'upstream_registry_username');
  const password = opt(b.upstream_registry_password, 'upstream_registry_password');
  if (password !== undefined && username === undefined) throw invalid('upstream_registry_password needs upstream_registry_username');
  let expirationS = DEFAULT_EXPIRATION_S;
  if (b.expiration_s !== undefined && b.expiration_s !== null && b.expiration_s !== '') {
    const n = typeof b.expiration_s === 'string' && /^\d+$/.test(b.expiration_s) ? Number(b.expiration_s) : b.expiration_s;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 60 || n > 10 * 365 * 86_400)
      throw invalid('expiration_s must be a whole number of seconds between 60 and 315360000');
    expirationS = n;
  }
  if (b.insecure !== undefined && b.insecure !== null && typeof b.insecure !== 'boolean') throw invalid('insecure must be true or false');
  const proxy = b.proxy === undefined ? undefined : mergeProxySettings(undefined, b.proxy, 'proxy');
  return {
    org,
    upstreamRegistry: b.upstream_registry.trim().replace(/\/+$/, ''),
    registry,
    username,
    password,
    expirationS,
    insecure: b.insecure === true,
    ...(usesProxy(proxy) ? { proxy } : {}),
  };
}

export class ProxyCacheConfigStore {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly box: SecretBox,
  ) {}

  private seal(org: string, field: string, v: string | undefined): string | null {
    return v === undefined ? null : this.box.seal(v, `proxy_cache_config:${org}:${field}`);
  }

  private open(org: string, field: string, v: string | null): string | undefined {
    return v === null ? undefined : this.box.open(v, `proxy_cache_config:${org}:${field}`);
  }

  /** The configuration of an organization, or undefined (through the data-model cache when there is one). */
  async get(org: string): Promise<ProxyCacheConfig | undefined> {
    const load = async (): Promise<StoredRow | null> => {
      const row = await this.ctx.db.selectFrom('proxy_cache_config').selectAll().where('org', '=', org).executeTakeFirst();
      return row
        ? {
            upstream_registry: row.upstream_registry,
            username: row.username,
            password: row.password,
            expiration_s: Number(row.expiration_s),
            insecure: Number(row.insecure),
            proxy: row.proxy,
          }
        : null;
    };
    const row = this.ctx.cache ? await this.ctx.cache.fetch(CacheGroups.proxyCache, org, load) : await load();
    if (!row) return undefined;
    return {
      org,
      upstreamRegistry: row.upstream_registry,
      registry: parseUpstreamRegistry(row.upstream_registry),
      username: this.open(org, 'username', row.username),
      password: this.open(org, 'password', row.password),
      expirationS: row.expiration_s,
      insecure: row.insecure === 1,
      ...(row.proxy ? { proxy: JSON.parse(this.open(org, 'proxy', row.proxy) as string) as ProxySettings } : {}),
    };
  }

  /** Tells every replica that an organization's configuration changed. */
  private async changed(): Promise<void> {
    await this.ctx.cache?.invalidate(CacheGroups.proxyCache);
  }

  /** Creates the configuration; Quay refuses a second one ("already exists": delete it first). */
  async create(cfg: ProxyCacheConfig): Promise<void> {
    const exists = await this.ctx.db.selectFrom('proxy_cache_config').select('org').where('org', '=', cfg.org).executeTakeFirst();
    if (exists) throw invalid('Proxy Cache Configuration already exists: delete it before configuring another upstream');
    await this.ctx.db
      .insertInto('proxy_cache_config')
      .values({
        org: cfg.org,
        upstream_registry: cfg.upstreamRegistry,
        username: this.seal(cfg.org, 'username', cfg.username),
        password: this.seal(cfg.org, 'password', cfg.password),
        expiration_s: cfg.expirationS,
        insecure: cfg.insecure ? 1 : 0,
        created_at: this.ctx.now(),
        proxy: this.seal(cfg.org, 'proxy', cfg.proxy && JSON.stringify(cfg.proxy)),
      })
      .onConflict((oc) => oc.column('org').doNothing())
      .execute();
    await this.changed();
  }

  async delete(org: string): Promise<void> {
    const r = await this.ctx.db.deleteFrom('proxy_cache_config').where('org', '=', org).executeTakeFirst();
    await this.changed();
    if (Number(r.numDeletedRows) === 0) throw notFound(`organization "${org}" has no proxy cache configuration`);
  }

  /** Removes the configuration of an organization that is deleted (nothing when there is none). */
  async forget(org: string): Promise<void> {
    await this.ctx.db.deleteFrom('proxy_cache_config').where('org', '=', org).execute();
    await this.changed();
  }
}
