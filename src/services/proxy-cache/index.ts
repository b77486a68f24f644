// The pull-through cache (Quay's FEATURE_PROXY_CACHE): an organization configured with an upstream registry
// serves `<org>/<path>` from `<upstream>/<prefix>/<path>`, storing what it fetched. The /v2 handlers call
// four hooks: refuseWrite (pushes and deletes are DENIED), beforeManifest (fetch or re-check a manifest
// before the ordinary read), blobHead (ask the upstream about a blob not stored) and blob (stream a blob from the
// upstream while storing it). docs/PROXY-CACHE.md.
import type { Readable } from 'node:stream';
import type { SecretBox } from '../../crypto/index.js';
import { looksLikeDigest, requireDigest } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import { isValidTag } from '../../oci/names.js';
import { UpstreamClient, UpstreamError, type ProxySettings, type UpstreamOptions } from '../../upstream/index.js';
import type { ServiceContext } from '../context.js';
import { findRepository } from '../repositories.js';
import { ProxyCacheConfigStore, parseProxyCacheInput, type ProxyCacheConfig, type ProxyCacheInput } from './config-store.js';
import { SingleFlight } from './single-flight.js';
import { isFresh } from './staleness.js';
import { cachedTag, ensureCacheRepository, hasManifest, markChecked, storeManifest } from './store-manifest.js';
import { teeBlob } from './fetch-blob.js';
import { upstreamToRegistryError } from './upstream-errors.js';
import { invalid } from '../accounts/errors.js';
import { linkBlob } from '../blob-links.js';
import { effectiveProxy, maskedProxySettings } from '../proxy-settings.js';

/** Child manifests of an index fetched with it (beyond that, on request). */
const MAX_CHILDREN = 64;

export { DEFAULT_EXPIRATION_S } from './config-store.js';
export type { ProxyCacheConfig, ProxyCacheInput } from './config-store.js';

/** Quay's GET view: the password (and username) never leave the server. */
export interface ProxyCacheView {
  upstream_registry: string;
  expiration_s: number | '';
  insecure: boolean | '';
  upstream_registry_username?: string;
  /** Berth: the outbound proxy to the upstream (passwords shown as ********), when one is set. */
  proxy?: ProxySettings;
}

export interface ProxyCacheOptions {
  /** Visibility of a repository created by a cached pull (CREATE_PRIVATE_REPO_ON_PUSH, as a push). */
  visibility: 'public' | 'private';
  /** Extra client options (tests: a shorter timeout). */
  client?: Partial<UpstreamOptions>;
  log?: { warn(obj: object, msg: string): void };
}

export class ProxyCacheService {
  readonly configs: ProxyCacheConfigStore;
  private readonly clients = new Map<string, UpstreamClient>();
  private readonly manifestFlights = new SingleFlight<void>();
  private readonly blobFlights = new SingleFlight<void>();

  constructor(
    private readonly ctx: ServiceContext,
    box: SecretBox,
    private readonly opts: ProxyCacheOptions,
  ) {
    this.configs = new ProxyCacheConfigStore(ctx, box);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  // ---- configuration (the /api/v1 handlers) ----

  async view(org: string): Promise<ProxyCacheView> {
    const c = await this.configs.get(org);
    if (!c) return { upstream_registry: '', expiration_s: '', insecure: '' };
    return {
      upstream_registry: c.upstreamRegistry,
      expiration_s: c.expirationS,
      insecure: c.insecure,
      ...(c.username ? { upstream_registry_username: c.username } : {}),
      ...(c.proxy ? { proxy: maskedProxySettings(c.proxy) } : {}),
    };
  }

  async create(org: string, body: ProxyCacheInput | undefined): Promise<ProxyCacheConfig> {
    const cfg = parseProxyCacheInput(org, body);
    await this.configs.create(cfg);
    return cfg;
  }

  async remove(org: string): Promise<void> {
    await this.configs.delete(org);
    for (const [k, c] of this.clients) {
      if (k.startsWith(`${org}\n`)) {
        c.close();
        this.clients.delete(k);
      }
    }
  }

  /**
   * Checks a configuration against its upstream (Quay's validateproxycache): "Valid" when the upstream
   * accepted the credentials (or needs none), "Anonymous" when no credentials are given and the upstream
   * answers only with a challenge it then grants anonymously. Any failure: an `invalid` error saying why.
   */
  async validate(org: string, body: ProxyCacheInput | undefined): Promise<'Valid' | 'Anonymous'> {
    const cfg = parseProxyCacheInput(org, body);
    const client = this.newClient(cfg);
    try {
      await client.ping();
    } catch (e) {
      if (e instanceof UpstreamError) {
        const why =
          e.failure === 'unauthorized'
            ? `Failed login to remote registry. Please verify entered details and try again. (${e.message})`
            : `Failed to validate Proxy cache configuration: ${e.message}`;
        throw invalid(why);
      }
      throw e;
    } finally {
      client.close();
    }
    return cfg.username ? 'Valid' : 'Anonymous';
  }

  private newClient(cfg: ProxyCacheConfig): UpstreamClient {
    const proxy = effectiveProxy(cfg.proxy, this.ctx.config.outboundProxy);
    return new UpstreamClient({
      registry: cfg.registry,
      username: cfg.username,
      password: cfg.password,
      insecure: cfg.insecure,
      ...(proxy ? { proxy } : {}),
      ...this.opts.client,
    });
  }

  private client(cfg: ProxyCacheConfig): UpstreamClient {
    const key = [cfg.org, cfg.upstreamRegistry, cfg.username ?? '', cfg.password ?? '', cfg.insecure, JSON.stringify(cfg.proxy ?? {})].join(
      '\n',
    );
    let c = this.clients.get(key);
    if (!c) {
      c = this.newClient(cfg);
      this.clients.set(key, c);
    }
    return c;
  }

  // ---- registry hooks (the /v2 handlers) ----

  /** The cache configuration governing a repository name, if its organization is a proxy cache. */
  private configFor(name: string): Promise<ProxyCacheConfig | undefined> {
    const i = name.indexOf('/');
    if (i <= 0) return Promise.resolve(undefined);
    return this.configs.get(name.slice(0, i));
  }

  /** Pushes, tag moves and deletes in a proxy cache organization are refused (as in Quay). */
  async refuseWrite(name: string | undefined): Promise<void> {
    if (!name) return;
    const cfg = await this.configFor(name);
    if (cfg)
      throw new RegistryError(
        'DENIED',
        `"${name.split('/')[0]}" is a proxy cache organization (of ${cfg.upstreamRegistry}): pushing and deleting are not allowed there`,
        { name },
      );
  }

  /**
   * Before a manifest read in a cache organization: a digest not stored is fetched; a tag not stored or not
   * checked within expiration_s is checked with a HEAD (same digest: the check time is refreshed; another
   * digest: fetched). With a cached copy, any upstream failure leaves it served; without, the failure is the
   * client's error (upstream-errors.ts).
   */
  async beforeManifest(name: string, reference: string): Promise<void> {
    const cfg = await this.configFor(name);
    if (!cfg) return;
    const byDigest = looksLikeDigest(reference);
    if (byDigest) requireDigest(reference);
    else if (!isValidTag(reference)) return; // the ordinary read answers MANIFEST_UNKNOWN / NAME_UNKNOWN
    const repo = await findRepository(this.ctx.db, name);
    if (byDigest) {
      if (repo && (await hasManifest(this.ctx, repo.id, reference))) return;
    } else if (repo) {
      const cached = await cachedTag(this.ctx, repo.id, reference);
      if (cached && isFresh(cached.checkedAt, cfg.expirationS, this.ctx.now())) return;
      if (cached) return this.manifestFlights.run(`${name}:${reference}`, () => this.recheck(cfg, repo.id, name, reference, cached.digest));
    }
    return this.manifestFlights.run(`${name}@${reference}`, () => this.fetchManifest(cfg, name, reference));
  }

  private async recheck(cfg: ProxyCacheConfig, repositoryId: number, name: string, tag: string, digest: string): Promise<void> {
    const client = this.client(cfg);
    const up = client.repository(name.slice(cfg.org.length + 1));
    try {
      const head = await client.headManifest(up, tag);
      if (head.digest === digest) {
        await markChecked(this.ctx.db, repositoryId, tag, digest, this.ctx.now());
        return;
      }
      await this.fetchManifest(cfg, name, tag);
    } catch (e) {
      if (!(e instanceof UpstreamError) && !(e instanceof RegistryError && e.code === 'UNAVAILABLE')) throw e;
      // The cached copy answers while the upstream is down or refusing; checked again on the next pull.
      this.opts.log?.warn(
        { repository: name, tag, upstream: cfg.upstreamRegistry, err: (e as Error).message },
        'proxy cache: upstream check failed; serving the cached tag',
      );
    }
  }

  private async fetchManifest(cfg: ProxyCacheConfig, name: string, reference: string): Promise<void> {
    const client = this.client(cfg);
    const up = client.repository(name.slice(cfg.org.length + 1));
    let m: Awaited<ReturnType<UpstreamClient['getManifest']>>;
    try {
      m = await client.getManifest(up, reference);
    } catch (e) {
      throw upstreamToRegistryError(e, 'manifest', cfg.upstreamRegistry);
    }
    const repo = await ensureCacheRepository(this.ctx, name, this.opts.visibility);
    const children = await storeManifest(this.ctx, repo, m, looksLikeDigest(reference) ? undefined : reference);
    // An index: its child manifests too (a client that takes no index is served its platform's image from them).
    // A child that cannot be fetched now is fetched when a client asks for it by digest.
    const missing: string[] = [];
    for (const d of children.slice(0, MAX_CHILDREN)) if (!(await hasManifest(this.ctx, repo.id, d))) missing.push(d);
    for (let i = 0; i < missing.length; i += 4) {
      await Promise.all(
        missing.slice(i, i + 4).map(async (d) => {
          try {
            await storeManifest(this.ctx, repo, await client.getManifest(up, d));
          } catch (e) {
            if (!(e instanceof UpstreamError)) throw e;
            this.opts.log?.warn({ repository: name, digest: d, err: e.message }, 'proxy cache: child manifest not fetched');
          }
        }),
      );
    }
  }

  /**
   * Where a blob read in a cache organization stands before the upstream is asked: `serve` when the ordinary read
   * answers (not a cache organization, or the repository has the blob, after linking a copy stored elsewhere that a
   * cached manifest of the repository names); otherwise the configuration, the repository (if it exists) and whether
   * a copy is stored (for another repository: linked only once the upstream confirmed it has the blob here).
   */
  private async blobState(
    name: string,
    digest: string,
  ): Promise<{ serve: true } | { serve: false; cfg: ProxyCacheConfig; repo?: { id: number }; stored?: { size: number } }> {
    const cfg = await this.configFor(name);
    if (!cfg) return { serve: true };
    requireDigest(digest);
    const repo = await findRepository(this.ctx.db, name);
    if (repo) {
      const linked = await this.ctx.db
        .selectFrom('repository_blob')
        .select('digest')
        .where('repository_id', '=', repo.id)
        .where('digest', '=', digest)
        .executeTakeFirst();
      if (linked) return { serve: true };
    }
    const known = await this.ctx.db.selectFrom('blob').select('size').where('digest', '=', digest).executeTakeFirst();
    const stored = known && (await this.ctx.store.stat(digest)) ? { size: Number(known.size) } : undefined;
    if (repo && stored) {
      const named = await this.ctx.db
        .selectFrom('manifest_ref')
        .innerJoin('manifest', 'manifest.id', 'manifest_ref.manifest_id')
        .select('manifest_ref.digest')
        .where('manifest.repository_id', '=', repo.id)
        .where('manifest_ref.digest', '=', digest)
        .where('manifest_ref.kind', '=', 'blob')
        .executeTakeFirst();
      // Stored under another repository already and named by a manifest cached here: linked without asking upstream.
      if (named) {
        await linkBlob(this.ctx.db, repo.id, digest, stored.size, this.ctx.now());
        return { serve: true };
      }
    }
    return { serve: false, cfg, ...(repo ? { repo } : {}), ...(stored ? { stored } : {}) };
  }

  /**
   * A copy stored for another repository, not named by anything cached here: served here only when the upstream has
   * the blob in this repository (a HEAD), then linked (the repository created as a pull would). Without that check a
   * client could read any stored blob by its digest through a cache organization.
   */
  private async confirmStored(cfg: ProxyCacheConfig, name: string, digest: string, size: number, repo?: { id: number }) {
    const client = this.client(cfg);
    try {
      await client.headBlob(client.repository(name.slice(cfg.org.length + 1)), digest);
    } catch (e) {
      throw upstreamToRegistryError(e, 'blob', cfg.upstreamRegistry);
    }
    const r = repo ?? (await ensureCacheRepository(this.ctx, name, this.opts.visibility));
    await linkBlob(this.ctx.db, r.id, digest, size, this.ctx.now());
  }

  /**
   * A blob HEAD in a cache organization: undefined when the ordinary read should answer (see blobState); otherwise
   * the upstream is asked (pull-through, nothing fetched or stored) and its size returned. Upstream 404 ->
   * BLOB_UNKNOWN, down -> 502 UNAVAILABLE (upstream-errors.ts).
   */
  async blobHead(name: string, digest: string): Promise<{ size?: number } | undefined> {
    const st = await this.blobState(name, digest);
    if (st.serve) return undefined;
    if (st.stored) {
      await this.confirmStored(st.cfg, name, digest, st.stored.size, st.repo);
      return undefined;
    }
    const client = this.client(st.cfg);
    try {
      return await client.headBlob(client.repository(name.slice(st.cfg.org.length + 1)), digest);
    } catch (e) {
      throw upstreamToRegistryError(e, 'blob', st.cfg.upstreamRegistry);
    }
  }

  /**
   * A blob GET in a cache organization: undefined when the ordinary read should answer (see blobState). Otherwise
   * the upstream's bytes, streamed while stored (the repository is created as a manifest pull would). One upstream
   * fetch per repository and digest at a time: a second client waits for the first fetch to be stored and then reads
   * the stored blob.
   */
  async blob(name: string, digest: string): Promise<{ stream: Readable; size?: number } | undefined> {
    const fetched = await this.fetchBlob(name, digest);
    return fetched && { stream: fetched.stream, ...(fetched.size !== undefined ? { size: fetched.size } : {}) };
  }

  /**
   * A ranged blob GET in a cache organization: a blob not stored yet is fetched from the upstream whole (or the fetch
   * in flight is joined, as for blob()) and stored, so that the ordinary read then answers the range from storage.
   * Settles once it is stored, or at once when the ordinary read can answer already. Upstream 404 -> BLOB_UNKNOWN,
   * down -> 502 UNAVAILABLE; bytes that could not be stored (wrong digest, storage failure) -> 502 UNAVAILABLE.
   */
  async storeBlob(name: string, digest: string): Promise<void> {
    const fetched = await this.fetchBlob(name, digest);
    if (!fetched) return;
    // No client reads this copy (it gets its range from storage): let it flow so the store's copy is not held back.
    fetched.stream.resume();
    try {
      await fetched.stored;
    } catch (e) {
      if (e instanceof UpstreamError) throw upstreamToRegistryError(e, 'blob', fetched.upstream);
      throw new RegistryError(
        'UNAVAILABLE',
        `proxy cache: the blob from the upstream registry ${fetched.upstream} could not be stored: ${(e as Error).message}`,
        { upstream: fetched.upstream },
        502,
      );
    }
  }

  private async fetchBlob(
    name: string,
    digest: string,
    attempt = 0,
  ): Promise<{ stream: Readable; size?: number; stored: Promise<void>; upstream: string } | undefined> {
    const st = await this.blobState(name, digest);
    if (st.serve) return undefined;
    const { cfg } = st;
    if (st.stored) {
      await this.confirmStored(cfg, name, digest, st.stored.size, st.repo);
      return undefined;
    }
    const key = `blob:${name}:${digest}`;
    // From here to track() nothing awaits: of two concurrent clients, exactly one starts the fetch.
    if (this.blobFlights.pending(key)) {
      // The fetch in flight first gets its response, then stores it: wait for both, then read what was stored.
      for (let running = this.blobFlights.pending(key); running; running = this.blobFlights.pending(key))
        await running.catch(() => undefined);
      // Stored: the ordinary read serves it. Refused (wrong bytes) or failed: this client tries once itself.
      return attempt === 0 ? this.fetchBlob(name, digest, 1) : undefined;
    }
    const client = this.client(cfg);
    const up = client.repository(name.slice(cfg.org.length + 1));
    // The upstream's answer, then the repository it is stored in (created as a manifest pull would): one run in flight.
    const started = client.getBlob(up, digest).then(async (fetched) => {
      try {
        return { fetched, repo: st.repo ?? (await ensureCacheRepository(this.ctx, name, this.opts.visibility)) };
      } catch (e) {
        fetched.stream.destroy();
        throw e;
      }
    });
    this.blobFlights.track(
      key,
      started.then(() => undefined),
    );
    let fetched: Awaited<ReturnType<UpstreamClient['getBlob']>>;
    let repo: { id: number };
    try {
      ({ fetched, repo } = await started);
    } catch (e) {
      throw upstreamToRegistryError(e, 'blob', cfg.upstreamRegistry);
    }
    const teed = teeBlob(this.ctx, repo.id, digest, fetched);
    this.blobFlights.track(key, teed.stored);
    teed.stored.catch((e) =>
      this.opts.log?.warn(
        { repository: name, digest, upstream: cfg.upstreamRegistry, err: (e as Error).message },
        'proxy cache: blob not stored',
      ),
    );
    return { stream: teed.stream, size: teed.size, stored: teed.stored, upstream: cfg.upstreamRegistry };
  }
}
