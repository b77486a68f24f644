// Builds the blob store DISTRIBUTED_STORAGE_CONFIG names, and tries it once: a store that cannot be reached
// stops the start with one line naming the config key.
import type { StorageSettings } from '../config/schema-storage.js';
import type { BlobStore } from './blobstore.js';
import { FsBlobStore } from './fs-blobstore.js';
import type { UploadStateStore } from './upload-state.js';

export class StorageStartError extends Error {}

/** The store without touching it (no check, no directories made). The S3 SDK is loaded only when S3 is configured. */
export async function buildBlobStore(
  settings: StorageSettings,
  states: UploadStateStore,
  now: () => number = Date.now,
): Promise<BlobStore> {
  if (settings.kind === 'local') return new FsBlobStore(settings.path);
  const { S3BlobStore } = await import('./s3-blobstore.js');
  return new S3BlobStore(settings, states, now);
}

/** A short description of where blobs go, for the start-up line (never a secret). */
export function describeStorage(settings: StorageSettings): string {
  if (settings.kind === 'local') return settings.path;
  return `${settings.driver} bucket ${settings.bucket}${settings.endpoint ? ` at ${settings.endpoint}` : ` (${settings.region})`}${settings.prefix ? `/${settings.prefix}` : ''}`;
}

export async function openBlobStore(settings: StorageSettings, states: UploadStateStore, now: () => number = Date.now): Promise<BlobStore> {
  const store = await buildBlobStore(settings, states, now);
  if (store instanceof FsBlobStore) {
    try {
      await store.init();
    } catch (e) {
      throw new StorageStartError(
        `${settings.configKey}: cannot use ${settings.kind === 'local' ? settings.path : ''} for blobs: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    return store;
  }
  try {
    await store.check?.();
  } catch (e) {
    store.close?.();
    throw new StorageStartError(`cannot start: ${(e as Error).message}`);
  }
  return store;
}
