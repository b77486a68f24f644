// The /v2 plugin: a hook matches the route table, resolves the caller's principal once and checks its access;
// the handler then dispatches by method. Errors are the spec's JSON.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { RegistryError } from '../../oci/errors.js';
import { requireRepositoryName } from '../../oci/names.js';
import type { RegistryServices } from '../../services/index.js';
import { matchRegistryPath, REGISTRY_PATTERNS, registryRequest, type RegistryRoute, type RouteMatch } from './route-table.js';
import { parseAuthorization } from '../auth/credentials.js';
import { TokenRefused } from '../../services/accounts/registry-access.js';
import { principalOf } from '../principal.js';
import { requestOrigin } from '../origin.js';
import type { RepositoryCreator } from '../../services/repositories.js';
import type { Handler } from './types.js';
import { deleteBlob, getBlob } from './blobs.js';
import { cancelUpload, getUpload, patchUpload, putUpload, startUpload } from './uploads.js';
import { deleteManifest, getManifest, getReferrers, putManifest } from './manifests.js';
import { listCatalog, listTags } from './listing.js';

const base: Handler = async ({ reply }) => reply.code(200).header('Content-Type', 'application/json').send('{}');

const HANDLERS: Record<RegistryRoute, Partial<Record<string, Handler>>> = {
  base: { GET: base, HEAD: base },
  catalog: { GET: listCatalog },
  tags: { GET: listTags },
  manifest: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  blob: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
  'upload-start': { POST: startUpload },
  upload: { GET: getUpload, PATCH: patchUpload, PUT: putUpload, DELETE: cancelUpload },
  referrers: { GET: getReferrers },
};

declare module 'fastify' {
  interface FastifyRequest {
    routePattern?: string;
    registryMatch?: RouteMatch;
    /** The Content-Type header as the client sent it (a manifest PUT checks it; the framework never parses /v2 bodies). */
    registryContentType?: string;
    /** Accounts: creates the repository a push names when the push stores its first content. */
    createRepository?: RepositoryCreator;
  }
}

/** Every method x pattern the /v2 dispatcher serves (behind its two wildcard routes). */
export function registryEndpoints(): { method: string; url: string }[] {
  return REGISTRY_PATTERNS.flatMap(({ route, pattern }) => Object.keys(HANDLERS[route]).map((method) => ({ method, url: pattern })));
}

/** The methods a /v2 route serves (the Allow header of a 405). */
export function registryMethods(route: RegistryRoute): string[] {
  return Object.keys(HANDLERS[route]);
}

export function sendRegistryError(reply: FastifyReply, err: RegistryError): FastifyReply {
  reply.code(err.status).headers(err.headers).header('Content-Type', 'application/json');
  return reply.send(JSON.stringify(err.body()));
}

export async function registryPlugin(app: FastifyInstance, opts: { services: RegistryServices }): Promise<void> {
  const { services } = opts;

  // Route match, principal and access check, once per request before the handler.
  const matchAndAuthorize = async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0');
    const url = req.raw.url ?? '';
    const q = url.indexOf('?');
    const rawPath = q >= 0 ? url.slice(0, q) : url;
    let rest: string;
    try {
      rest = decodeURIComponent(rawPath.replace(/^\/v2\/?/, ''));
    } catch {
      throw new RegistryError('NAME_INVALID', 'the request path is not valid percent-encoding');
    }
    const match = matchRegistryPath(rest);
    if (!match) throw new RegistryError('NAME_UNKNOWN', `no registry endpoint at ${rawPath.slice(0, 300)}`, undefined, 404);
    req.routePattern = match.pattern;
    if (!HANDLERS[match.route][req.method]) {
      throw new RegistryError('UNSUPPORTED', `${req.method} is not supported on ${match.pattern}`, undefined, 405, {
        Allow: registryMethods(match.route).join(', '),
      });
    }
    if (match.name !== undefined) requireRepositoryName(match.name);
    req.registryMatch = match;
    const request = { ...registryRequest(match, req.method), origin: requestOrigin(req), address: req.ip };
    if (request.action === 'push' || request.action === 'delete') await services.proxyCache?.refuseWrite(request.name);
    const creds = parseAuthorization(req.headers.authorization);
    try {
      req.principal = await services.access.registryPrincipal(creds, request);
      req.createRepository = await services.access.authorize(req.principal, request);
    } catch (e) {
      if (e instanceof TokenRefused) req.log.warn({ event: 'token_refused', ip: req.ip, reason: e.reason }, 'registry token refused');
      else if (creds.scheme === 'malformed' && e instanceof RegistryError && e.status === 401) {
        req.log.warn({ event: 'auth_refused', ip: req.ip, reason: creds.reason }, 'registry request refused');
      }
      throw e;
    }
  };

  const dispatch = async (req: FastifyRequest, reply: FastifyReply) => {
    const match = req.registryMatch!;
    const query = req.query as Record<string, string | undefined>;
    const body = (req.body as Readable | undefined) ?? req.raw;
    return HANDLERS[match.route][req.method]!({
      req,
      reply,
      match: match as never,
      principal: principalOf(req),
      services,
      body,
      query,
      createRepository: req.createRepository,
    });
  };

  // /v2 bodies are streams the handlers read themselves: the Content-Type is kept aside for them, so an empty
  // or malformed one reaches the handler (a manifest PUT answers MANIFEST_INVALID) instead of Fastify's 415.
  const keepContentType = async (req: FastifyRequest) => {
    const ct = req.headers['content-type'];
    if (ct === undefined) return;
    req.registryContentType = ct;
    delete req.headers['content-type'];
  };
  // Route-level hooks, so the plugin needs no encapsulation context of its own (the note below the plugin says why).
  const route = {
    method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'],
    onRequest: keepContentType,
    preHandler: matchAndAuthorize,
    handler: dispatch,
  };
  app.route({ ...route, url: '/v2' });
  app.route({ ...route, url: '/v2/*' });
}
// Not encapsulated (fastify-plugin's marker): the /v2 routes use the root context's Request and Reply classes, the
// same as GET /metrics and the 404 handler. Each encapsulated plugin gets classes of its own, and objects of another
// class have another hidden class (V8 map): a first request of another context (a scrape) then deoptimised the
// optimised GET path, from Fastify's Request constructor to the metrics hook (docs/PERFORMANCE.md, "Metrics, seventh
// round").
(registryPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
