// How the client reached Berth: the Host (or X-Forwarded-Host) and scheme (or X-Forwarded-Proto) of a request;
// Fastify honours the forwarded headers only from TRUSTED_PROXIES.
import type { FastifyRequest } from 'fastify';
import type { RequestOrigin } from '../services/index.js';

export function requestOrigin(req: FastifyRequest): RequestOrigin {
  return { host: req.host, scheme: req.protocol === 'https' ? 'https' : 'http' };
}
