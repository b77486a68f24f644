// The caller of every /v2 and /api/v1 request, resolved once by a hook (api/plugin.ts, registry/plugin.ts,
// auth/token-endpoint.ts) into req.principal; handlers pass it on to the services.
import type { FastifyRequest } from 'fastify';
import { ANONYMOUS, type Principal } from '../services/principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the principal hook before any handler runs. */
    principal?: Principal;
    /** The CSRF token of the caller's browser session (sent back by GET /api/v1/user/). */
    sessionCsrf?: string;
  }
}

export function principalOf(req: FastifyRequest): Principal {
  return req.principal ?? ANONYMOUS;
}
