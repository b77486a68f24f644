// The one HTTP server: fastify, body streaming, error mapping, request log, routes.
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import type { RegistryServices } from '../services/index.js';
import { registryMethods, registryPlugin, sendRegistryError } from './registry/plugin.js';
import { frameworkError, registryClientError, unsupportedMethod } from './registry/edge-errors.js';
import { installMetrics, type MetricsHttpOptions } from './metrics-plugin.js';
import type { TlsOptions } from '../crypto/index.js';
import { storageRegistryError } from './registry/storage-errors.js';
import { holdWritesUntilDurable } from './durable-ack.js';

export interface AppOptions {
  services: RegistryServices;
  logger?: FastifyServerOptions['logger'];
  /** HTTPS certificate and key (accounts / TLS). */
  https?: { cert: Buffer; key: Buffer } & TlsOptions;
  /** Plugins registered before the /v2 dispatcher (token endpoint, /api/v1). */
  plugins?: ((app: FastifyInstance) => PromiseLike<unknown>)[];
  /** Request metrics and GET /metrics (src/metrics); absent when METRICS_ENABLED is false. */
  metrics?: MetricsHttpOptions;
  /** TRUSTED_PROXIES: peers whose X-Forwarded-* headers count (req.ip, req.protocol, req.host); empty: none. */
  trustedProxies?: string[];
  /** Awaited before the response to every write request is sent (src/services/durability.ts). */
  durable?: () => Promise<void>;
}

/** Request fields set by Berth's hooks (declared in the `declare module 'fastify'` blocks of their modules). */
const REQUEST_FIELDS = [
  'routePattern',
  'registryMatch',
  'registryContentType',
  'createRepository',
  'principal',
  'sessionCsrf',
  'apiMatch',
  'auditEvents',
] as const satisfies readonly (keyof FastifyRequest)[];

export interface RegisteredRoute {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered on this app (method and URL pattern), for the route-coverage test and diagnostics. */
    registeredRoutes: RegisteredRoute[];
  }
}

/** The Fastify server with its parsers and error handling, no routes yet (its logger exists from here on). */
export function createApp(opts: Pick<AppOptions, 'logger' | 'https' | 'trustedProxies'>): FastifyInstance {
  const app = Fastify({
    logger: opts.logger ?? false,
    // Blob bodies are streamed by the handlers; the framework never buffers them.
    bodyLimit: 1024 * 1024,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
    routerOptions: { ignoreDuplicateSlashes: false, maxParamLength: 2048 },
    // Parser errors and undecodable URLs answer in the spec's error JSON too (src/http/registry/edge-errors.ts).
    clientErrorHandler: registryClientError,
    frameworkErrors: frameworkError,
    ...(opts.https ? { https: opts.https } : {}),
    trustProxy: opts.trustedProxies?.length ? opts.trustedProxies : false,
  });

  // The fields Berth's hooks set on a request, declared so that Fastify's Request constructor sets them (to undefined)
  // on every request: every request object then has one hidden class (V8 map) from its construction on, whatever
  // route it takes, instead of a chain of map transitions that differs by route. Code reading them (the metrics and
  // audit hooks, the handlers) stays monomorphic when another kind of request comes in, e.g. a scrape of /metrics.
  // Before any plugin is registered: an encapsulated plugin copies the list when it is registered.
  for (const field of REQUEST_FIELDS) app.decorateRequest(field, undefined);

  const routes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
  });

  // The close ends the connections idle at that moment (forceCloseConnections 'idle'), but one whose response was
  // still going out stays open after it: Node gives it the keep-alive timeout (65 s), and server.close() waits for it
  // (a SIGTERM then ran into SHUTDOWN_GRACE_SECONDS). From the close on, a finished response keeps its connection only
  // for Node's shortest keep-alive (1 ms plus its 1 s buffer), so the close waits for in-flight responses and no more.
  app.addHook('preClose', (done) => {
    app.server.keepAliveTimeout = 1;
    done();
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload as Readable));

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof RegistryError) return sendRegistryError(reply, err);
    const storage = storageRegistryError(err, req.log);
    if (storage) {
      // A body cut off by the failure is not read further: close the connection instead of leaving it half-read.
      if (!req.raw.complete) reply.header('Connection', 'close');
      return sendRegistryError(reply, storage);
    }
    const e = err as Error & { statusCode?: number; code?: string };
    if (req.url.startsWith('/v2')) {
      if (
        e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ||
        e.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' ||
        (e.statusCode && e.statusCode < 500)
      ) {
        return sendRegistryError(reply, new RegistryError('BLOB_UPLOAD_INVALID', e.message, undefined, e.statusCode ?? 400));
      }
      if (isClientAbort(e)) {
        return sendRegistryError(reply, new RegistryError('BLOB_UPLOAD_INVALID', `the request body was cut short: ${e.message}`));
      }
    }
    req.log.error({ err: e }, 'unhandled error');
    return reply
      .code(500)
      .header('Content-Type', 'application/json')
      .send(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'internal error; see the server log' }] }));
  });

  app.setNotFoundHandler((req, reply) => {
    if (req.url.startsWith('/v2')) {
      reply.header('Docker-Distribution-API-Version', 'registry/2.0');
      const e = unsupportedMethod(req.raw.url ?? '', req.method, registryMethods);
      return sendRegistryError(reply, e ?? new RegistryError('NAME_UNKNOWN', 'no such endpoint', undefined, 404));
    }
    return reply
      .code(404)
      .header('Content-Type', 'application/json')
      .send(JSON.stringify({ error: 'not found', path: req.url.slice(0, 200) }));
  });

  return app;
}

/** Registers the routes: metrics hooks first (so every route is timed), the plugins, then the /v2 dispatcher. */
export async function installRoutes(app: FastifyInstance, opts: Omit<AppOptions, 'logger' | 'https' | 'trustedProxies'>): Promise<void> {
  if (opts.durable) holdWritesUntilDurable(app, opts.durable);
  if (opts.metrics) installMetrics(app, opts.metrics);
  for (const plugin of opts.plugins ?? []) await plugin(app);
  await app.register(registryPlugin, { services: opts.services });
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = createApp(opts);
  await installRoutes(app, opts);
  return app;
}

function isClientAbort(e: Error & { code?: string }): boolean {
  return e.code === 'ECONNRESET' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' || /aborted/i.test(e.message);
}
