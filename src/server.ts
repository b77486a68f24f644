// The composition root: config -> database, blob store -> services -> HTTP app.
import type { FastifyInstance } from 'fastify';
import type { BerthConfig } from './config/load.js';
import { openDatabase, type OpenedDatabase } from './db/database.js';
import { FsBlobStore } from './storage/fs-blobstore.js';
import type { ServiceContext } from './services/context.js';
import { buildServices } from './services/index.js';
import { buildApp } from './http/app.js';

export interface Berth {
  app: FastifyInstance;
  ctx: ServiceContext;
  database: OpenedDatabase;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function openContext(config: BerthConfig): Promise<{ ctx: ServiceContext; database: OpenedDatabase }> {
  const database = await openDatabase(config.db);
  const store = new FsBlobStore(config.storage.path);
  await store.init();
  const ctx: ServiceContext = { config, db: database.db, dialect: database.dialect, store, now: () => Date.now() };
  return { ctx, database };
}

export async function createBerth(config: BerthConfig, opts: { logger?: boolean } = {}): Promise<Berth> {
  const { ctx, database } = await openContext(config);
  const services = buildServices(ctx);
  const app = await buildApp({ services, logger: opts.logger ? { level: 'info' } : false });
  let closed = false;
  return {
    app,
    ctx,
    database,
    async listen() {
      const address = await app.listen({ host: config.listen.host, port: config.listen.port });
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await database.close();
    },
  };
}
