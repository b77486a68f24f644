// Storage failures on /v2 as OCI errors: an unreachable store is 503 UNAVAILABLE (with Retry-After), a second writer
// of one upload is 416; the details (which store, what failed) go to the log, not to the client.
import type { FastifyBaseLogger } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import { StorageUnavailable, UploadConflict } from '../../storage/blobstore.js';

export function storageRegistryError(err: unknown, log: FastifyBaseLogger): RegistryError | undefined {
  if (err instanceof StorageUnavailable) {
    log.error({ err: { message: err.message } }, 'blob storage unavailable');
    return new RegistryError(
      'UNAVAILABLE',
      'blob storage is unavailable; nothing of this request was kept, try again later',
      undefined,
      503,
      { 'Retry-After': '5' },
    );
  }
  if (err instanceof UploadConflict) {
    return new RegistryError('BLOB_UPLOAD_INVALID', `${err.message}; send one chunk at a time`, undefined, 416);
  }
  return undefined;
}
