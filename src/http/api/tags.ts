// /api/v1/repository/{name}/tag/…: the tag list (paging, name filter, history), move, delete, restore
// (handlers of the rows in route-table.ts).
import { z } from 'zod';
import { parseTagNameFilter } from '../../services/tags.js';
import { sendJson } from './principal.js';
import type { ApiHandler } from './types.js';
import { auditLater } from '../audit-hook.js';

const moveTagBody = z.object({ manifest_digest: z.string().min(1).max(200) });
// PUT …/tag/{tag} (Quay's RepositoryTag.put): move it (manifest_digest), and/or set or clear its expiration
// (seconds since the epoch, null clears).
const putTagBody = z
  .object({
    manifest_digest: z.string().min(1).max(200).optional(),
    expiration: z.number().finite().nullable().optional(),
  })
  .refine((b) => b.manifest_digest !== undefined || b.expiration !== undefined, {
    message: 'give manifest_digest (move the tag) and/or expiration (seconds since the epoch, or null to clear it)',
  });
const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
});
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const tagQuery = pageQuery.extend({
  onlyActiveTags: flag.default(true),
  specificTag: z.string().min(1).max(128).optional(),
  filter_tag_name: z.string().max(140).optional(),
});

export const listTags: ApiHandler = async ({ req, reply, params: { name }, principal, deps: { accounts, tags } }) => {
  await accounts.repos.requireAccess(principal, name, 'read');
  const q = tagQuery.parse(req.query);
  const filter = q.filter_tag_name === undefined ? undefined : parseTagNameFilter(q.filter_tag_name);
  return sendJson(
    reply,
    200,
    await tags.list(name, { limit: q.limit, page: q.page, onlyActive: q.onlyActiveTags, specificTag: q.specificTag, filter }),
  );
};

export const moveTag: ApiHandler = async ({ req, reply, params: { name, tag }, principal, deps: { accounts, tags, repoStates } }) => {
  await accounts.repos.requireAccess(principal, name, 'write');
  await repoStates?.requireWritable(name);
  const b = putTagBody.parse(req.body);
  const i = name.indexOf('/');
  const where = { repo: name.slice(i + 1), namespace: name.slice(0, i), tag };
  if (b.manifest_digest !== undefined) {
    const { previous } = await tags.move(name, tag, b.manifest_digest);
    auditLater(req, {
      kind: previous ? 'move_tag' : 'create_tag',
      repository: name,
      metadata: {
        ...where,
        manifest_digest: b.manifest_digest,
        ...(previous ? { original_manifest_digest: previous } : {}),
      },
    });
  }
  if (b.expiration !== undefined) {
    const { previous } = await tags.setExpiration(name, tag, b.expiration);
    auditLater(req, {
      kind: 'change_tag_expiration',
      repository: name,
      metadata: { ...where, expiration_date: b.expiration, old_expiration_date: previous },
    });
  }
  return sendJson(reply, 201, 'Updated');
};

export const restoreTag: ApiHandler = async ({ req, reply, params: { name, tag }, principal, deps: { accounts, tags, repoStates } }) => {
  await accounts.repos.requireAccess(principal, name, 'write');
  await repoStates?.requireWritable(name);
  const b = moveTagBody.parse(req.body);
  await tags.restore(name, tag, b.manifest_digest);
  return sendJson(reply, 200, {});
};

export const deleteTag: ApiHandler = async ({ reply, params: { name, tag }, principal, deps: { accounts, tags, repoStates } }) => {
  await accounts.repos.requireAccess(principal, name, 'write');
  await repoStates?.requireWritable(name);
  await tags.delete(name, tag);
  return reply.code(204).send();
};
