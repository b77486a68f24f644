// /v2/:name/blobs/uploads/ — start (with monolithic and mount forms), PATCH, PUT, GET status, DELETE.
import type { Handler } from './types.js';
import { RegistryError } from '../../oci/errors.js';
import { chunkRange, contentLength, sendUploadState } from './headers.js';

function blobCreated(reply: Parameters<Handler>[0]['reply'], name: string, digest: string) {
  return reply
    .code(201)
    .headers({
      Location: `/v2/${name}/blobs/${digest}`,
      'Docker-Content-Digest': digest,
      'Content-Length': '0',
    })
    .send();
}

export const startUpload: Handler = async ({ reply, match, services, body, query, req, principal, createRepository }) => {
  const { name } = match;
  if (query.mount !== undefined) {
    const mounted = await services.uploads.mount(
      name,
      query.mount,
      query.from || undefined,
      (repo) => services.access.canRead(principal, repo),
      createRepository,
    );
    if (mounted) return blobCreated(reply, name, mounted.digest);
  }
  const len = contentLength(req);
  if (query.digest !== undefined) {
    const blob = await services.uploads.monolithic(name, query.digest, body, len, createRepository);
    return blobCreated(reply, name, blob.digest);
  }
  if (len) {
    throw new RegistryError(
      'BLOB_UPLOAD_INVALID',
      'a POST with a body must name its digest (?digest=); to upload in steps, POST without a body first',
    );
  }
  const s = await services.uploads.start(name);
  return sendUploadState(reply, 202, name, s.id, 0);
};

export const patchUpload: Handler = async ({ reply, match, services, body, req }) => {
  const range = chunkRange(req);
  const s = await services.uploads.append(match.name, match.ref, body, range, contentLength(req));
  return sendUploadState(reply, 202, match.name, s.id, s.size);
};

export const putUpload: Handler = async ({ reply, match, services, body, req, query, createRepository }) => {
  if (!query.digest) {
    throw new RegistryError('DIGEST_INVALID', 'completing an upload needs ?digest= with the digest of the whole blob');
  }
  const blob = await services.uploads.finish(
    match.name,
    match.ref,
    query.digest,
    body,
    chunkRange(req),
    contentLength(req),
    createRepository,
  );
  return blobCreated(reply, match.name, blob.digest);
};

export const getUpload: Handler = async ({ reply, match, services }) => {
  const s = await services.uploads.status(match.name, match.ref);
  return sendUploadState(reply, 204, match.name, s.id, s.size);
};

export const cancelUpload: Handler = async ({ reply, match, services }) => {
  await services.uploads.cancel(match.name, match.ref);
  return reply.code(204).send();
};
