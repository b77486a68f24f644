// Metrics over HTTP: one onResponse hook that times every request by its route pattern and
// counts pulls, pushes and pulled bytes (the /v2 handlers stay free of metrics code), and the
// GET /metrics exposition, on the main port and/or a separate listener, optionally behind basic auth.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { hashHex } from '../crypto/index.js';
import { MANIFEST_MEDIA_TYPES, bareMediaType } from '../oci/mediatypes.js';
import { type Metrics, methodIndex } from '../metrics/registry.js';

export interface MetricsHttpOptions {
  metrics: Metrics;
  /** Serve GET /metrics on this app. */
  serve: boolean;
  basicAuth?: { username: string; password: string };
}

const MANIFEST_ROUTE = '/v2/:name/manifests/:reference';
const METRICS_ROUTE = '/metrics';
const BLOB_ROUTE = '/v2/:name/blobs/:digest';
/** Label values stay bounded: any other method is "OTHER" (methodIndex), any other manifest media type "other". */
const PUSH_MEDIA_TYPES = new Set(MANIFEST_MEDIA_TYPES);
const GET = methodIndex('GET');
const PUT = methodIndex('PUT');

/** Adds the request hook (and the /metrics route when `serve`) to the main app. Call before routes are registered. */
export function installMetrics(app: FastifyInstance, opts: MetricsHttpOptions): void {
  const { metrics } = opts;
  // Per request: one Map get by the route pattern (a constant string, its hash cached), then array reads by method
  // and status; nothing is allocated (docs/PERFORMANCE.md, "Metrics, fifth round").
  app.addHook('onResponse', (req, reply, done) => {
    // /v2 routes: the registry plugin's pattern; other routes: Fastify's (routeOptions builds an object: off the /v2 path).
    const pattern = req.routePattern ?? req.routeOptions.url ?? 'unmatched';
    const method = methodIndex(req.method);
    const status = reply.statusCode;
    metrics.route(pattern).observe(method, status, reply.elapsedTime / 1000);
    if (pattern === MANIFEST_ROUTE) {
      if (method === GET) {
        const ref = req.registryMatch?.ref;
        metrics.recordPull((ref === undefined ? isDigestReference(req.url) : ref.includes(':')) ? 'manifest' : 'tag', status);
      } else if (method === PUT) metrics.recordPush(status, pushMediaType(req.registryContentType ?? req.headers['content-type']));
    } else if (pattern === BLOB_ROUTE && method === GET && (status === 200 || status === 206)) {
      metrics.recordPulledBytes(Number(reply.getHeader('content-length')) || 0);
    }
    done();
  });
  if (opts.serve) addMetricsRoute(app, opts);
}

/** A listener that serves only GET /metrics (METRICS_PORT). */
export async function buildMetricsApp(opts: {
  metrics: MetricsRenderer;
  basicAuth?: MetricsHttpOptions['basicAuth'];
}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  addMetricsRoute(app, opts);
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).header('Content-Type', 'text/plain; charset=utf-8').send('only /metrics is served here\n'),
  );
  await app.ready();
  return app;
}

/** Anything that renders a Prometheus exposition (the server's Metrics, or a standalone scanner's). */
export interface MetricsRenderer {
  render(): Promise<{ contentType: string; body: string }>;
}

export function addMetricsRoute(
  app: FastifyInstance,
  opts: { metrics: MetricsRenderer; basicAuth?: MetricsHttpOptions['basicAuth'] },
): void {
  const { metrics, basicAuth } = opts;
  const expected = basicAuth && { user: hashHex('sha256', basicAuth.username), password: hashHex('sha256', basicAuth.password) };
  app.get(METRICS_ROUTE, async (req: FastifyRequest, reply: FastifyReply) => {
    // The request hook's route label, set here as the registry plugin sets it for /v2: the hook then reads one field
    // on every request it times and never takes its fallback (routeOptions) for a scrape, so a scrape does not
    // deoptimise it on a server that has answered only /v2 requests before.
    req.routePattern = METRICS_ROUTE;
    if (expected && !authorized(req.headers.authorization, expected)) {
      return reply
        .code(401)
        .headers({ 'WWW-Authenticate': 'Basic realm="berth metrics", charset="UTF-8"', 'Content-Type': 'text/plain; charset=utf-8' })
        .send('credentials required for /metrics\n');
    }
    const { contentType, body } = await metrics.render();
    // A Buffer, as the manifest GET sends: Fastify's send then takes the same branches for both.
    return reply.headers({ 'Content-Type': contentType, 'Cache-Control': 'no-store' }).send(Buffer.from(body));
  });
}

/** Compares digests of the credentials, so the time taken says nothing about the secret. */
function authorized(header: string | undefined, expected: { user: string; password: string }): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return false;
  const userOk = hashHex('sha256', decoded.slice(0, i)) === expected.user;
  const passwordOk = hashHex('sha256', decoded.slice(i + 1)) === expected.password;
  return userOk && passwordOk;
}

/** A digest reference ("sha256:…", maybe percent-encoded) pulls a manifest; anything else is a tag. */
function isDigestReference(url: string): boolean {
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const ref = path.slice(path.lastIndexOf('/') + 1);
  return ref.includes(':') || ref.includes('%3A') || ref.includes('%3a');
}

function pushMediaType(contentType: string | undefined): string {
  const mt = bareMediaType(contentType);
  if (PUSH_MEDIA_TYPES.has(mt)) return mt;
  return mt === '' ? 'none' : 'other';
}
