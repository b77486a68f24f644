// The composition root: config -> database, blob store -> services -> HTTP app.
import type { Server as HttpServer } from 'node:http';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { BerthConfig } from './config/load.js';
import { openDatabase, type OpenedDatabase } from './db/database.js';
import { FsBlobStore } from './storage/fs-blobstore.js';
import type { ServiceContext } from './services/context.js';
import { buildServices } from './services/index.js';
import { buildApp } from './http/app.js';
import { webUi } from './http/web.js';
import { buildAccountServices, type AccountServices } from './services/accounts/index.js';
import { TokenAccessPolicy } from './http/auth/registry-access.js';
import { tokenEndpoint } from './http/auth/token-endpoint.js';
import { apiPlugin } from './http/api/plugin.js';
import { listenPlainHttp, readTls, watchTls } from './http/tls.js';

export interface Berth {
  app: FastifyInstance;
  ctx: ServiceContext;
  database: OpenedDatabase;
  accounts: AccountServices;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>;
  /** The plain-HTTP URL when HTTP_LISTEN is set next to TLS. */
  plainUrl?: string;
  close(): Promise<void>;
}

export async function openContext(config: BerthConfig): Promise<{ ctx: ServiceContext; database: OpenedDatabase }> {
  const database = await openDatabase(config.db);
  const store = new FsBlobStore(config.storage.path);
  await store.init();
  const ctx: ServiceContext = { config, db: database.db, dialect: database.dialect, store, now: () => Date.now() };
  return { ctx, database };
}

export async function createBerth(config: BerthConfig, opts: { logger?: boolean | FastifyServerOptions['logger'] } = {}): Promise<Berth> {
  const { ctx, database } = await openContext(config);
  const accounts = buildAccountServices(ctx);
  const services = buildServices(ctx, new TokenAccessPolicy(accounts));
  const tls = accounts.ctx.auth.tls;
  const logger = opts.logger === true ? { level: 'info' } : opts.logger ?? false;
  const app = await buildApp({
    services,
    logger,
    https: tls ? readTls(tls) : undefined,
    plugins: [
      (a) => a.register(webUi),
      (a) => a.register(tokenEndpoint, { accounts }),
      (a) => a.register(apiPlugin, { accounts, services, prefix: '/api/v1' }),
    ],
  });
  await accounts.bootstrap();
  const stopWatching = tls ? watchTls(app, tls) : undefined;
  let plain: HttpServer | undefined;
  let closed = false;
  const berth: Berth = {
    app,
    ctx,
    database,
    accounts,
    async listen() {
      const address = await app.listen({ host: config.listen.host, port: config.listen.port });
      if (tls?.httpListen) {
        plain = await listenPlainHttp(app, tls.httpListen);
        const a = plain.address();
        if (a && typeof a === 'object') berth.plainUrl = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
      }
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      stopWatching?.();
      if (plain) await new Promise((r) => { plain!.closeAllConnections(); plain!.close(r); });
      await app.close();
      await database.close();
    },
  };
  return berth;
}
