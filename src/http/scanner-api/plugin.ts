// The Clair v4 HTTP API (same paths and JSON field names as Clair, so either side can be swapped):
//   POST   /indexer/api/v1/index_report            Manifest {hash, layers[{hash, uri, headers}]} -> IndexReport (201)
//   GET    /indexer/api/v1/index_report/{digest}   IndexReport, 404 when not indexed
//   DELETE /indexer/api/v1/index_report/{digest}   204
//   DELETE /indexer/api/v1/index_report            body: [digest...] -> the deleted digests
//   GET    /indexer/api/v1/index_state             {state} (+ ETag)
//   GET    /matcher/api/v1/vulnerability_report/{digest}   VulnerabilityReport, 404 when not indexed
//   GET    /notifier/api/v1/notification/{id}      PagedNotifications (?page_size, ?next)
//   DELETE /notifier/api/v1/notification/{id}      acknowledges (deletes) it
// Every request needs "Authorization: Bearer <HS256 JWT signed with the PSK>"; without a PSK
// configured, every request is refused (the API would otherwise expose private images' contents).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ScannerService } from '../../scanner/service.js';
import { LayerFormatError } from '../../scanner/indexer/index.js';
import { verifyPskToken } from '../../scanner/clair-api/auth.js';

const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const manifestBody = z.object({
  hash: z.string().regex(DIGEST),
  layers: z
    .array(
      z.object({
        hash: z.string().regex(DIGEST),
        uri: z.string().url().optional(),
        headers: z.record(z.string(), z.array(z.string())).optional(),
      }),
    )
    .max(1000),
});

function clairError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(JSON.stringify({ code, message }));
}

export interface ClairApiOptions {
  scanner: ScannerService;
  /** The pre-shared key (base64); undefined: every request is refused. */
  psk?: string;
}

export async function clairApiPlugin(app: FastifyInstance, opts: ClairApiOptions): Promise<void> {
  const { scanner } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 4 * 1024 * 1024 }, (_req, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('the request body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof z.ZodError)
      return clairError(reply, 400, 'bad-request', err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const e = err as { statusCode?: number; message: string };
    if (e.statusCode && e.statusCode < 500) return clairError(reply, e.statusCode, 'bad-request', e.message);
    req.log.error({ err }, 'scanner API error');
    return clairError(reply, 500, 'internal-error', 'internal error; see the server log');
  });
  app.addHook('onRequest', async (req, reply) => {
    if (!opts.psk) return clairError(reply, 401, 'unauthorized', 'the scanner API needs SECURITY_SCANNER_V4_PSK to be configured');
    const refused = await verifyPskToken(opts.psk, req.headers.authorization);
    if (refused) {
      req.log.warn({ event: 'scanner_api_auth_refused', ip: req.ip }, 'scanner API request refused');
      return clairError(reply, 401, 'unauthorized', refused);
    }
  });

  app.post('/indexer/api/v1/index_report', async (req, reply) => {
    const m = manifestBody.parse(req.body);
    try {
      await scanner.indexManifest(m);
    } catch (e) {
      if (e instanceof LayerFormatError) return clairError(reply, 400, 'bad-request', e.message);
      const msg = (e as Error).message;
      if (/not in blob storage|fetching layer/.test(msg)) return clairError(reply, 400, 'bad-request', msg);
      throw e;
    }
    const report = await scanner.clairIndexReport(m.hash);
    return reply.code(201).header('content-type', 'application/json').send(JSON.stringify(report));
  });

  app.get<{ Params: { digest: string } }>('/indexer/api/v1/index_report/:digest', async (req, reply) => {
    const report = await scanner.clairIndexReport(req.params.digest);
    if (!report) return clairError(reply, 404, 'not-found', `no index report for ${req.params.digest}`);
    return reply.header('content-type', 'application/json').send(JSON.stringify(report));
  });

  app.delete<{ Params: { digest: string } }>('/indexer/api/v1/index_report/:digest', async (req, reply) => {
    await scanner.deleteIndex(req.params.digest);
    return reply.code(204).send();
  });

  app.delete('/indexer/api/v1/index_report', async (req, reply) => {
    const list = z
      .array(z.string().regex(DIGEST))
      .max(10_000)
      .parse(req.body ?? []);
    const deleted: string[] = [];
    for (const d of list) if (await scanner.deleteIndex(d)) deleted.push(d);
    return reply.header('content-type', 'application/json').send(JSON.stringify(deleted));
  });

  app.get('/indexer/api/v1/index_state', async (req, reply) => {
    const state = scanner.indexState();
    const etag = `"${state}"`;
    if (req.headers['if-none-match'] === etag) return reply.code(304).header('etag', etag).send();
    return reply.header('etag', etag).header('content-type', 'application/json').send(JSON.stringify({ state }));
  });

  app.get<{ Params: { digest: string } }>('/matcher/api/v1/vulnerability_report/:digest', async (req, reply) => {
    const report = await scanner.vulnerabilityReport(req.params.digest);
    if (!report) return clairError(reply, 404, 'not-found', `no index report for ${req.params.digest}: index it first`);
    return reply.header('content-type', 'application/json').send(JSON.stringify(report));
  });

  app.get<{ Params: { id: string } }>('/notifier/api/v1/notification/:id', async (req, reply) => {
    const q = z
      .object({ page_size: z.coerce.number().int().min(1).max(1000).default(100), next: z.string().max(200).optional() })
      .parse(req.query);
    const page = await scanner.notifier?.page(req.params.id, q.page_size, q.next);
    if (!page) return clairError(reply, 404, 'not-found', `no notification ${req.params.id}`);
    return reply.header('content-type', 'application/json').send(JSON.stringify(page));
  });

  app.delete<{ Params: { id: string } }>('/notifier/api/v1/notification/:id', async (req, reply) => {
    const ok = await scanner.notifier?.delete(req.params.id);
    if (!ok) return clairError(reply, 404, 'not-found', `no notification ${req.params.id}`);
    return reply.code(200).send();
  });
}
