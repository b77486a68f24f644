// The registry's services, built once by the composition root.
import type { FastifyRequest } from 'fastify';
import type { BerthConfig } from '../config/load.js';
import type { ServiceContext } from './context.js';
import { UploadService } from './uploads.js';
import { BlobService } from './blobs.js';
import { ManifestService } from './manifests.js';
import { ListingService } from './listing.js';
import type { RepositoryCreator } from './repositories.js';

/** Who may read a repository. Until accounts exist every repository is open to every caller. */
export interface AccessPolicy {
  canRead(req: FastifyRequest, repository: string): boolean;
  /**
   * Accounts: checks the caller may use this /v2 route; throws a RegistryError (401/403) when not. For a push to a
   * repository that does not exist yet, resolves with how to create it once the push stores something.
   */
  authorize?(req: FastifyRequest, route: string, method: string, name: string | undefined): Promise<RepositoryCreator | undefined>;
  /** Accounts: ids of the repositories the caller may see in the catalog (undefined: all). */
  visibleRepositoryIds?(req: FastifyRequest): Promise<number[] | undefined>;
}

export const OPEN_ACCESS: AccessPolicy = { canRead: () => true };

export interface RegistryServices {
  config: BerthConfig;
  uploads: UploadService;
  blobs: BlobService;
  manifests: ManifestService;
  listing: ListingService;
  access: AccessPolicy;
}

export function buildServices(ctx: ServiceContext, access: AccessPolicy = OPEN_ACCESS): RegistryServices {
  return {
    config: ctx.config,
    uploads: new UploadService(ctx),
    blobs: new BlobService(ctx),
    manifests: new ManifestService(ctx),
    listing: new ListingService(ctx),
    access,
  };
}
