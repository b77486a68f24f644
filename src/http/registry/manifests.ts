// GET/HEAD/PUT/DELETE /v2/:name/manifests/:reference and GET /v2/:name/referrers/:digest
import type { Handler } from './types.js';
import { acceptList, contentLength } from './headers.js';
import { readLimited } from './body.js';
import { MT } from '../../oci/mediatypes.js';

export const getManifest: Handler = async ({ req, reply, match, services }) => {
  await services.proxyCache?.beforeManifest(match.name, match.ref);
  const m = await services.manifests.get(match.name, match.ref, acceptList(req), { countPull: req.method === 'GET' });
  reply.code(200).headers({
    'Content-Type': m.mediaType,
    'Docker-Content-Digest': m.digest,
    'Content-Length': String(m.size),
    ETag: `"${m.digest}"`,
  });
  if (req.method === 'HEAD') return reply.send();
  return reply.send(Buffer.from(m.content));
};

export const putManifest: Handler = async ({ req, reply, match, services, body, createRepository }) => {
  const bytes = await readLimited(body, services.config.maxManifestBytes, contentLength(req));
  const r = await services.manifests.put(match.name, match.ref, bytes, req.registryContentType, createRepository);
  reply.code(201).headers({
    Location: `/v2/${match.name}/manifests/${r.digest}`,
    'Docker-Content-Digest': r.digest,
    'Content-Length': '0',
  });
  if (r.subject) reply.header('OCI-Subject', r.subject);
  return reply.send();
};

export const deleteManifest: Handler = async ({ reply, match, services }) => {
  await services.manifests.delete(match.name, match.ref);
  return reply.code(202).header('Content-Length', '0').send();
};

export const getReferrers: Handler = async ({ reply, match, services, query }) => {
  const r = await services.manifests.referrers(match.name, match.ref, query.artifactType || undefined);
  reply.code(200).header('Content-Type', MT.ociIndex);
  if (r.filtered) reply.header('OCI-Filters-Applied', 'artifactType');
  return reply.send(Buffer.from(JSON.stringify(r.index)));
};
