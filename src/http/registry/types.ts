// What a /v2 handler gets: the request, the reply, the matched route and the services.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { RouteMatch } from './route-table.js';
import type { RegistryServices } from '../../services/index.js';
import type { RepositoryCreator } from '../../services/repositories.js';
import type { Principal } from '../../services/principal.js';

export interface HandlerArgs {
  req: FastifyRequest;
  reply: FastifyReply;
  match: RouteMatch & { name: string; ref: string };
  /** The caller, resolved once by the /v2 hook. */
  principal: Principal;
  services: RegistryServices;
  /** The request body as a stream (never buffered by the framework). */
  body: Readable;
  query: Record<string, string | undefined>;
  /** Accounts: creates the repository (owner, visibility, the pusher's rights) when the push stores its first content. */
  createRepository?: RepositoryCreator;
}

export type Handler = (a: HandlerArgs) => Promise<unknown>;
