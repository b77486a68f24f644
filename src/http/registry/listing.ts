// GET /v2/:name/tags/list and GET /v2/_catalog, paged with n and last and a Link header.
import type { FastifyReply } from 'fastify';
import type { Handler } from './types.js';
import type { Page } from '../../services/listing.js';

function sendPage(reply: FastifyReply, path: string, n: number | undefined, page: Page<string>, body: Record<string, unknown>) {
  if (page.next !== undefined && n !== undefined) {
    reply.header('Link', `<${path}?n=${n}&last=${encodeURIComponent(page.next)}>; rel="next"`);
  } else if (page.next !== undefined) {
    reply.header('Link', `<${path}?last=${encodeURIComponent(page.next)}>; rel="next"`);
  }
  return reply.code(200).header('Content-Type', 'application/json').send(JSON.stringify(body));
}

export const listTags: Handler = async ({ reply, match, services, query }) => {
  const n = services.listing.pageSize(query.n);
  const page = await services.listing.tags(match.name, n, services.listing.lastOf(query.last));
  return sendPage(reply, `/v2/${match.name}/tags/list`, n, page, { name: match.name, tags: page.items });
};

export const listCatalog: Handler = async ({ principal, reply, services, query }) => {
  const n = services.listing.pageSize(query.n);
  const visible = await services.access.visibleRepositoryIds(principal);
  const page = await services.listing.catalog(n, services.listing.lastOf(query.last), visible);
  return sendPage(reply, '/v2/_catalog', n, page, { repositories: page.items });
};
