// The registry's services, built once by the composition root. The access policy of /v2 is the accounts'
// RegistryAccess (src/services/accounts/registry-access.ts) when accounts are on, OPEN_ACCESS otherwise.
import type { BerthConfig } from '../config/load.js';
import type { ServiceContext } from './context.js';
import { ANONYMOUS, type Credentials, type Principal } from './principal.js';
import { UploadService } from './uploads.js';
import { BlobService } from './blobs.js';
import { ManifestService } from './manifests.js';
import { ListingService } from './listing.js';
import type { RepositoryCreator } from './repositories.js';

export type RegistryAction = 'pull' | 'push' | 'delete';

/** What one /v2 request asks for, as the route table sees it. */
export interface RegistryRequest {
  /** The repository named in the path (absent for /v2/ and the catalog). */
  name?: string;
  action?: RegistryAction;
  /** The catalog (`registry:catalog:*`). */
  catalog?: boolean;
  /** A push that may create the repository when it does not exist yet (it is created when the push stores something). */
  createsRepository?: boolean;
  /** The client's address (the audit log's entry for a repository created by a push). */
  address?: string;
  /** How the client reached the registry (Host and scheme): names the token service when SERVER_HOSTNAME is unset. */
  origin?: RequestOrigin;
}

/** The host[:port] and scheme a request was sent to (X-Forwarded-Host/-Proto only from TRUSTED_PROXIES). */
export interface RequestOrigin {
  host: string;
  scheme: 'http' | 'https';
}

/** Who may do what on /v2. Every member takes the request's principal, never the request. */
export interface AccessPolicy {
  /** The principal of a /v2 request (its bearer token's account and grants); throws 401 for a token that is not valid. */
  registryPrincipal(creds: Credentials, request: RegistryRequest): Promise<Principal>;
  /**
   * Checks the caller may make this request; throws a RegistryError (401 with a challenge, or 403) when not.
   * For a push to a repository that does not exist yet, resolves with how to create it: the services call it
   * only when the push stores something, so a refused push leaves no repository behind.
   */
  authorize(p: Principal, request: RegistryRequest): Promise<RepositoryCreator | undefined>;
  /** Whether the caller may pull from a repository (cross-repository mount sources). */
  canRead(p: Principal, repository: string): boolean;
  /** Ids of the repositories the caller may see in the catalog (undefined: all). */
  visibleRepositoryIds(p: Principal): Promise<number[] | undefined>;
}

/** No accounts (AUTHENTICATION_TYPE: None and no accounts services): everyone may do everything. */
export const OPEN_ACCESS: AccessPolicy = {
  registryPrincipal: async () => ANONYMOUS,
  authorize: async () => undefined,
  canRead: () => true,
  visibleRepositoryIds: async () => undefined,
};

export interface RegistryServices {
  config: BerthConfig;
  uploads: UploadService;
  blobs: BlobService;
  manifests: ManifestService;
  listing: ListingService;
  access: AccessPolicy;
  /** The pull-through cache (FEATURE_PROXY_CACHE); absent when the feature is off. */
  proxyCache?: import('./proxy-cache/index.js').ProxyCacheService;
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
