// The composition root: config -> database, blob store -> services -> HTTP app.
import type { Server as HttpServer } from 'node:http';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { BerthConfig } from './config/load.js';
import { openDatabase, type OpenedDatabase } from './db/database.js';
import { openBlobStore } from './storage/open.js';
import { DbUploadStateStore } from './db/upload-state.js';
import { scheduleGc } from './services/gc-lease.js';
import type { ServiceContext } from './services/context.js';
import { buildServices } from './services/index.js';
import { buildApp } from './http/app.js';
import { webUi } from './http/web.js';
import { buildAccountServices, type AccountServices } from './services/accounts/index.js';
import { authSettings } from './config/auth.js';
import { tokenEndpoint } from './http/auth/token-endpoint.js';
import { oidcRoutes } from './http/auth/oidc.js';
import { apiPlugin } from './http/api/plugin.js';
import { listenPlainHttp, readTls, watchTls } from './http/tls.js';
import { buildScanner, type ScannerSetup } from './scanner/setup.js';
import { clairApiPlugin } from './scanner/clair-api/plugin.js';
import { buildMetricsApp } from './http/metrics-plugin.js';
import { metricsSettings } from './metrics/config.js';
import { Metrics } from './metrics/registry.js';
import { databaseRowCounts, storedBlobBytes } from './metrics/row-counts.js';
import { fipsStartup, type FipsReport } from './services/fips.js';
import { dataMaxAgeSeconds } from './scanner/bundle/airgap.js';
import { updaterAges, UpdaterStatusService } from './scanner/bundle/status.js';
import { TagService } from './services/tags.js';
import { ArtifactService } from './services/artifacts.js';
import { buildRedisSetup, type RedisSetup } from './cache/index.js';
import { registerRedisMetrics } from './cache/metrics.js';
import { PullRecorder } from './services/pull-stats.js';
import { buildAudit, type AuditServices } from './services/audit/index.js';
import { installAuditHook } from './http/audit-hook.js';

export interface Berth {
  app: FastifyInstance;
  ctx: ServiceContext;
  database: OpenedDatabase;
  accounts: AccountServices;
  /** The vulnerability scanner (undefined when FEATURE_SECURITY_SCANNER is off). */
  scanner?: ScannerSetup;
  /** Prometheus metrics of this server; undefined when METRICS_ENABLED is false. */
  metrics?: Metrics;
  /** The separate metrics listener's URL (METRICS_PORT), once listening. */
  metricsUrl?: string;
  /** The data-model cache and Redis connections (DATA_MODEL_CACHE_CONFIG, PULL_METRICS_REDIS). */
  redis: RedisSetup;
  /** The audit log and repository notifications (docs/AUDIT.md). */
  audit: AuditServices;
  /** FIPS mode: on or off, the active provider, the TLS policy. */
  fips: FipsReport;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>;
  /** The plain-HTTP URL when HTTP_LISTEN is set next to TLS. */
  plainUrl?: string;
  close(): Promise<void>;
}

export async function openContext(config: BerthConfig): Promise<{ ctx: ServiceContext; database: OpenedDatabase }> {
  const database = await openDatabase(config.db);
  let store;
  try {
    store = await openBlobStore(config.storage, new DbUploadStateStore(database.db));
  } catch (e) {
    await database.close();
    throw e;
  }
  const ctx: ServiceContext = { config, db: database.db, dialect: database.dialect, store, now: () => Date.now() };
  return { ctx, database };
}

export async function createBerth(config: BerthConfig, opts: { logger?: boolean | FastifyServerOptions['logger']; announceSetupCode?: (code: string, file: string) => void } = {}): Promise<Berth> {
  const tlsSettings = authSettings(config).tls;
  const tlsFiles = tlsSettings ? readTls(tlsSettings) : undefined;
  // Before anything opens: FIPS mode refuses to start in a non-FIPS process or with non-approved settings.
  const fips = fipsStartup(config, tlsFiles && { ...tlsFiles, where: `${tlsSettings!.certFile}, ${tlsSettings!.keyFile}` });
  const { ctx, database } = await openContext(config);
  // The data-model cache (in memory, or Redis shared by replicas) and the pull counters, before any service is built.
  const redis = buildRedisSetup(config);
  ctx.cache = redis.cache;
  const pulls = new PullRecorder(ctx.db, ctx.now, { redis: redis.pullMetrics, flushSeconds: config.raw.PULL_METRICS_FLUSH_SECONDS });
  ctx.pulls = pulls;
  const audit = buildAudit(ctx);
  ctx.audit = audit.log;
  // An external scanner fetches layers of private repositories with a short-lived pull token (accounts are built below).
  const scanner = buildScanner(ctx, {
    layerHeaders: async (repository) => (accounts.ctx.auth.open ? {} : accounts.tokens.layerPullHeaders(repository)),
    onRematch: (changes) => audit.notifications.vulnerabilitiesFound(changes),
  });
  if (scanner) {
    ctx.onManifestPut = (repository, digest) => scanner.service.enqueue(digest, repository);
    ctx.onManifestsRemoved = (digests) => scanner.service.manifestsRemoved(digests);
  }
  // Metrics: counts, storage and pool gauges are read on scrape (cached); services report through ctx.observer.
  const ms = metricsSettings(config);
  const metrics = ms.enabled ? new Metrics({
    rowCounts: databaseRowCounts(ctx.db, ctx.dialect),
    storageUsedBytes: () => storedBlobBytes(ctx.db),
    storagePath: config.storage.kind === 'local' ? config.storage.path : undefined,
    poolStats: database.poolStats,
    rowCountIntervalSeconds: ms.rowCountIntervalSeconds,
    fips: () => ({ on: fips.on, active: fips.status.active }),
    scanner: scanner && {
      jobCounts: () => scanner.service.counts(),
      vulnerabilityCounts: () => scanner.service.vulnerabilityCounts(),
      updaterDataTimes: () => updaterAges(ctx.db, ctx.dialect, { maxAgeSeconds: dataMaxAgeSeconds(config) }),
      maxAgeSeconds: dataMaxAgeSeconds(config),
      localData: !scanner.remote,
    },
  }) : undefined;
  if (metrics) ctx.observer = metrics.observer;
  if (metrics && redis.connections.length) registerRedisMetrics(metrics.registry, () => redis.up());
  if (metrics?.scanner && scanner) scanner.service.observer = metrics.scanner.observer;
  const accounts = buildAccountServices(ctx, { announceSetupCode: opts.announceSetupCode });
  const services = buildServices(ctx, accounts.registryAccess);
  const tls = accounts.ctx.auth.tls;
  const logger = opts.logger === true ? { level: 'info' } : opts.logger ?? false;
  const app = await buildApp({
    services,
    logger,
    trustedProxies: config.raw.TRUSTED_PROXIES,
    https: tlsFiles ? { ...tlsFiles, ...fips.tls } : undefined,
    metrics: metrics && { metrics, serve: ms.onMainPort, basicAuth: ms.basicAuth },
    plugins: [
      async (a) => installAuditHook(a, { audit: audit.log, onPush: (e) => { void audit.notifications.repoPushed(e.repository, [e.tag], e.performer, e.origin); } }),
      (a) => a.register(webUi),
      (a) => a.register(tokenEndpoint, { accounts }),
      (a) => a.register(oidcRoutes, { accounts }),
      (a) => a.register(apiPlugin, {
        deps: { accounts, tags: new TagService(ctx), artifacts: new ArtifactService(ctx), scanner: scanner?.service, updaterStatus: new UpdaterStatusService(ctx),
          audit: { queries: audit.queries, notifications: audit.notifications, now: ctx.now } },
        prefix: '/api/v1',
      }),
      ...(scanner && !scanner.remote ? [(a: FastifyInstance) => a.register(clairApiPlugin, { scanner: scanner.service, psk: scanner.psk })] : []),
    ],
  });
  redis.log = app.log;
  pulls.log = app.log;
  pulls.start();
  if (scanner) {
    scanner.service.log = app.log;
    scanner.start();
  }
  audit.start(app.log);
  // GC_INTERVAL_SECONDS: every replica tries; the gc lease lets one run at a time.
  const stopGc = config.gcIntervalSeconds > 0 ? scheduleGc(ctx, config.gcIntervalSeconds, app.log) : undefined;
  const metricsApp = metrics && ms.separate ? await buildMetricsApp({ metrics, basicAuth: ms.basicAuth }) : undefined;
  await accounts.bootstrap();
  await accounts.firstAdmin.prepare();
  accounts.identity.start(app.log);
  const stopWatching = tls ? watchTls(app, tls, 1000, fips.tls, fips.checkKeyPair) : undefined;
  let plain: HttpServer | undefined;
  let closed = false;
  const berth: Berth = {
    app,
    ctx,
    database,
    accounts,
    scanner,
    audit,
    metrics,
    redis,
    fips,
    async listen() {
      const address = await app.listen({ host: config.listen.host, port: config.listen.port });
      if (tls?.httpListen) {
        plain = await listenPlainHttp(app, tls.httpListen);
        const a = plain.address();
        if (a && typeof a === 'object') berth.plainUrl = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
      }
      if (metricsApp && ms.separate) berth.metricsUrl = await metricsApp.listen({ host: ms.separate.host, port: ms.separate.port });
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      stopWatching?.();
      if (plain) await new Promise((r) => { plain!.closeAllConnections(); plain!.close(r); });
      await scanner?.stop();
      await stopGc?.();
      await accounts.identity.stop();
      await metricsApp?.close();
      await app.close();
      await pulls.stop();
      await audit.close();
      ctx.store.close?.();
      await database.close();
      await redis.close();
      metrics?.close();
    },
  };
  return berth;
}
