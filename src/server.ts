// The composition root: config -> database, blob store -> HTTP server (its logger) -> metrics -> scanner
// -> service context -> accounts and services -> routes. Each part is built once, in this order, from
// the parts before it; nothing is patched in afterwards.
import type { Server as HttpServer } from 'node:http';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { BerthConfig } from './config/load.js';
import { openDatabase, type DB, type OpenedDatabase } from './db/database.js';
import { writesDurable } from './services/durability.js';
import { openBlobStore } from './storage/open.js';
import { DbUploadStateStore } from './db/upload-state.js';
import { scheduleGc } from './services/gc-lease.js';
import { watchReplicas } from './services/replicas.js';
import type { ServiceContext } from './services/context.js';
import { ProxyCacheService } from './services/proxy-cache/index.js';
import { databaseSecretBox } from './startup/secret-key.js';
import { buildServices } from './services/index.js';
import { createApp, installRoutes } from './http/app.js';
import { webUi } from './http/web.js';
import { buildAccountServices, type AccountServices } from './services/accounts/index.js';
import { RegistryTokenService } from './services/accounts/tokens.js';
import { authSettings } from './config/auth.js';
import { tokenEndpoint } from './http/auth/token-endpoint.js';
import { oidcRoutes } from './http/auth/oidc.js';
import { apiPlugin } from './http/api/plugin.js';
import { listenPlainHttp, readTls, watchTls } from './http/tls.js';
import { buildScanner, scannerCounts, scannerEnabled, type ScannerContext, type ScannerSetup } from './scanner/setup.js';
import { clairApiPlugin } from './http/scanner-api/plugin.js';
import { buildMetricsApp } from './http/metrics-plugin.js';
import { metricsSettings } from './metrics/config.js';
import { Metrics } from './metrics/registry.js';
import { databaseRowCounts, storedBlobBytes } from './metrics/row-counts.js';
import { fipsStartup, type FipsReport } from './startup/fips.js';
import { UpdaterStatusService } from './scanner/bundle/status.js';
import { TagService } from './services/tags.js';
import { ArtifactService } from './services/artifacts.js';
import { buildAudit, type AuditServices } from './services/audit/index.js';
import { installAuditHook } from './http/audit-hook.js';
import { buildRedisSetup, type RedisSetup } from './cache/index.js';
import { checkSecretKeyFingerprint } from './startup/key-fingerprint.js';
import { registerRedisMetrics } from './cache/metrics.js';
import { PullRecorder } from './services/pull-stats.js';
import { TokenStanding } from './services/accounts/token-standing.js';
import { PermissionService } from './services/accounts/permissions.js';
import { buildQuota } from './services/quota/setup.js';
import { buildMirror, RepositoryStates, withRepositoryStateGuard } from './services/mirror/index.js';

export interface Berth {
  /** The data-model cache and Redis connections (DATA_MODEL_CACHE_CONFIG, PULL_METRICS_REDIS). */
  redis: RedisSetup;
  app: FastifyInstance;
  ctx: ServiceContext;
  database: OpenedDatabase;
  accounts: AccountServices;
  /** The vulnerability scanner (undefined when FEATURE_SECURITY_SCANNER is off). */
  scanner?: ScannerSetup;
  /** Prometheus metrics of this server; undefined when METRICS_ENABLED is false. */
  metrics?: Metrics;
  /** The separate metrics listener's URL (METRICS_PORT), once listening. */
  readonly metricsUrl?: string;
  /** The audit log and repository notifications (docs/AUDIT.md). */
  audit: AuditServices;
  /** FIPS mode: on or off, the active provider, the TLS policy. */
  fips: FipsReport;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>;
  /** The plain-HTTP URL when HTTP_LISTEN is set next to TLS. */
  readonly plainUrl?: string;
  close(): Promise<void>;
}

/**
 * The database and the blob store (no hooks, no observer): what the CLI's one-shot commands work on. Before anything
 * may open a sealed value, this process's secret key must be the one the database was set up with (key-fingerprint.ts;
 * SecretKeyMismatchError otherwise, the database closed). `checkSecretKey: false` only for what never opens one (the
 * scanner's commands, whose standalone server has a database of its own).
 */
export async function openContext(
  config: BerthConfig,
  opts: { checkSecretKey?: boolean } = {},
): Promise<{ ctx: ServiceContext; database: OpenedDatabase }> {
  const database = await openDatabase(config.db);
  let store: Awaited<ReturnType<typeof openBlobStore>>;
  try {
    if (opts.checkSecretKey !== false) await checkSecretKeyFingerprint(database.db, config, Date.now());
    store = await openBlobStore(config.storage, new DbUploadStateStore(database.db));
  } catch (e) {
    await database.close();
    throw e;
  }
  const now = () => Date.now();
  const quota = buildQuota(config, database.db, now);
  const ctx: ServiceContext = { config, db: database.db, dialect: database.dialect, store, now, ...(quota ? { quota: quota.usage } : {}) };
  ctx.durable = database.durable;
  return { ctx, database };
}

export async function createBerth(
  config: BerthConfig,
  opts: { logger?: boolean | FastifyServerOptions['logger']; announceSetupCode?: (code: string, file: string) => void } = {},
): Promise<Berth> {
  const auth = authSettings(config);
  const tlsFiles = auth.tls ? readTls(auth.tls) : undefined;
  // Before anything opens: FIPS mode refuses to start in a non-FIPS process or with non-approved settings.
  const fips = fipsStartup(config, tlsFiles && { ...tlsFiles, where: `${auth.tls!.certFile}, ${auth.tls!.keyFile}` });
  // Before anything opens a sealed value, openContext checks this server's secret key against the database's.
  const { ctx: opened, database } = await openContext(config);
  // The data-model cache (in memory, or Redis shared by replicas) and the pull counters, before anything looks things up.
  const redis = buildRedisSetup(config);
  const pulls = new PullRecorder(opened.db, opened.now, { redis: redis.pullMetrics, flushSeconds: config.raw.PULL_METRICS_FLUSH_SECONDS });
  const base: ServiceContext = { ...opened, ...(redis.cache ? { cache: redis.cache } : {}), pulls };

  // The HTTP server first, without routes: its logger is the one every part logs through.
  const app = createApp({
    logger: opts.logger === true ? { level: 'info' } : (opts.logger ?? false),
    trustedProxies: config.raw.TRUSTED_PROXIES,
    https: tlsFiles ? { ...tlsFiles, ...fips.tls } : undefined,
  });
  redis.log = app.log;
  pulls.log = app.log;

  // Metrics: counts, storage and pool gauges are read on scrape (cached); the services and the scanner report
  // through the observers they are built with below.
  const ms = metricsSettings(config);
  const scanning = scannerEnabled(base);
  const metrics = ms.enabled
    ? new Metrics({
        rowCounts: databaseRowCounts(base.db, base.dialect),
        storageUsedBytes: () => storedBlobBytes(base.db),
        storagePath: config.storage.kind === 'local' ? config.storage.path : undefined,
        poolStats: database.poolStats,
        rowCountIntervalSeconds: ms.rowCountIntervalSeconds,
        nodeCollectors: ms.nodeCollectors,
        fips: () => ({ on: fips.on, active: fips.status.active }),
        ...(scanning ? { scanner: scannerCounts(base) } : {}),
      })
    : undefined;
  if (metrics && redis.connections.length) registerRedisMetrics(metrics.registry, () => redis.up());

  // The audit log and repository notifications (they log through the server's logger).
  const audit = buildAudit(base, { log: app.log });

  // Registry tokens (shared by /v2/auth and the external scanner's layer pulls: a 10-minute pull token per repository).
  // A robot's registry tokens carry its token's fingerprint, so regenerating it refuses them (token-standing.ts).
  const standing = new TokenStanding({ ...base, auth }, new PermissionService({ ...base, auth }));
  const tokens = new RegistryTokenService({ ...base, auth }, (subject) => standing.credentialOf(subject));
  const scannerCtx: ScannerContext = base;
  const scanner = buildScanner(scannerCtx, {
    log: app.log,
    observer: metrics?.scanner?.observer,
    ...(auth.open ? {} : { layerHeaders: (repository: string) => tokens.layerPullHeaders(repository) }),
    onRematch: (changes) => audit.notifications.vulnerabilitiesFound(changes),
  });

  // What every service is handed: the scanner hears about stored and removed manifests, metrics about events.
  // Storage quotas (FEATURE_QUOTA_MANAGEMENT): a push past a Warning limit is logged and audited.
  const quota = buildQuota(config, base.db, base.now, {
    warning: (w) => {
      app.log.warn(
        { event: 'quota_warning', ...w },
        `namespace ${w.namespace} is past the Warning limit (${w.thresholdPercent}%) of its quota`,
      );
      audit.log.record({
        kind: 'quota_warning',
        namespace: w.namespace,
        repository: w.repository,
        performer: { kind: 'anonymous' },
        metadata: {
          namespace: w.namespace,
          repository: w.repository,
          usage_bytes: w.usageBytes,
          limit_bytes: w.limitBytes,
          threshold_percent: w.thresholdPercent,
        },
      });
    },
  });
  const ctx: ServiceContext = {
    ...base,
    ...(quota ? { quota: quota.usage } : {}),
    audit: audit.log,
    ...(metrics ? { observer: metrics.observer } : {}),
    ...(scanner
      ? {
          onManifestPut: (repository: string, digest: string) => scanner.service.enqueue(digest, repository),
          scanQueue: {
            enqueueIn: (tx: DB, repository: string, digest: string) => scanner.service.enqueueIn(tx, digest, repository),
            queued: () => scanner.service.queued(),
          },
          onManifestsRemoved: (digests: string[]) => scanner.service.manifestsRemoved(digests),
        }
      : {}),
  };
  const accounts = buildAccountServices(ctx, { tokens, announceSetupCode: opts.announceSetupCode });
  // Repository states (MIRROR and READ_ONLY refuse pushes) and mirroring (FEATURE_REPO_MIRROR, docs/MIRRORING.md).
  const repoStates = new RepositoryStates(ctx);
  const mirror = buildMirror(ctx, repoStates, { log: app.log });
  // The pull-through cache (FEATURE_PROXY_CACHE, docs/PROXY-CACHE.md).
  const proxyCache = config.raw.FEATURE_PROXY_CACHE
    ? new ProxyCacheService(ctx, databaseSecretBox(config), { visibility: auth.privateOnPush ? 'private' : 'public', log: app.log })
    : undefined;
  const services = { ...buildServices(ctx, withRepositoryStateGuard(accounts.registryAccess, repoStates)), proxyCache };
  const apiDeps = {
    accounts,
    tags: new TagService(ctx),
    artifacts: new ArtifactService(ctx),
    scanner: scanner?.service,
    updaterStatus: new UpdaterStatusService(ctx),
    audit: { queries: audit.queries, notifications: audit.notifications, now: ctx.now },
    ...(quota ? { quota: quota.service } : {}),
    mirror: mirror?.service,
    repoStates,
    proxyCache,
  };

  await installRoutes(app, {
    services,
    durable: () => writesDurable(ctx),
    metrics: metrics && { metrics, serve: ms.onMainPort, basicAuth: ms.basicAuth },
    plugins: [
      async (a) =>
        installAuditHook(a, {
          audit: audit.log,
          onPush: (e) => {
            void audit.notifications.repoPushed(e.repository, [e.tag], e.performer, e.origin);
          },
        }),
      (a) => a.register(webUi),
      (a) => a.register(tokenEndpoint, { accounts }),
      (a) => a.register(oidcRoutes, { accounts }),
      (a) => a.register(apiPlugin, { deps: apiDeps, prefix: '/api/v1' }),
      ...(scanner && !scanner.remote
        ? [(a: FastifyInstance) => a.register(clairApiPlugin, { scanner: scanner.service, psk: scanner.psk })]
        : []),
    ],
  });
  // GC_INTERVAL_SECONDS: every replica tries; the gc lease lets one run at a time.
  const stopGc = config.gcIntervalSeconds > 0 ? scheduleGc(ctx, config.gcIntervalSeconds, app.log) : undefined;
  // PostgreSQL: this replica's heartbeat; warns when an in-memory cache shares the database with another replica.
  const replicas = await watchReplicas(ctx, config.raw.DATA_MODEL_CACHE_CONFIG?.engine ?? 'inmemory', app.log);
  const metricsApp = metrics && ms.separate ? await buildMetricsApp({ metrics, basicAuth: ms.basicAuth }) : undefined;

  scanner?.start();
  audit.start();
  pulls.start();
  mirror?.start();
  await accounts.bootstrap();
  await accounts.firstAdmin.prepare();
  accounts.identity.start(app.log);
  const backfilled = quota?.backfill(app.log);
  const stopWatching = auth.tls ? watchTls(app, auth.tls, 1000, fips.tls, fips.checkKeyPair) : undefined;
  let plain: HttpServer | undefined;
  let plainUrl: string | undefined;
  let metricsUrl: string | undefined;
  let closed = false;
  return {
    app,
    ctx,
    database,
    accounts,
    scanner,
    audit,
    metrics,
    redis,
    fips,
    get plainUrl() {
      return plainUrl;
    },
    get metricsUrl() {
      return metricsUrl;
    },
    async listen() {
      const address = await app.listen({ host: config.listen.host, port: config.listen.port });
      if (auth.tls?.httpListen) {
        plain = await listenPlainHttp(app, auth.tls.httpListen);
        const a = plain.address();
        if (a && typeof a === 'object') plainUrl = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
      }
      if (metricsApp && ms.separate) metricsUrl = await metricsApp.listen({ host: ms.separate.host, port: ms.separate.port });
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      stopWatching?.();
      if (plain)
        await new Promise((r) => {
          plain!.closeAllConnections();
          plain!.close(r);
        });
      await scanner?.stop();
      await backfilled;
      await stopGc?.();
      await mirror?.stop();
      await replicas?.stop();
      await accounts.identity.stop();
      await metricsApp?.close();
      await app.close();
      proxyCache?.close();
      await audit.close();
      await pulls.stop();
      ctx.store.close?.();
      await database.close();
      await redis.close();
      metrics?.close();
    },
  };
}
