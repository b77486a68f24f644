// How an upstream failure reaches a /v2 client when nothing cached can answer instead.
import { RegistryError } from '../../oci/errors.js';
import { UpstreamError } from '../../upstream/index.js';

/**
 * not found -> MANIFEST_UNKNOWN / BLOB_UNKNOWN (404); the upstream refused the cache's credentials -> DENIED
 * (403: the client's own credentials are fine, signing in again would not help); unreachable, 5xx or wrong
 * bytes -> UNAVAILABLE with status 502 (Bad Gateway). The message names the upstream and its answer.
 */
export function upstreamToRegistryError(e: unknown, what: 'manifest' | 'blob', upstream: string): RegistryError {
  if (!(e instanceof UpstreamError)) throw e;
  const detail = {
    upstream,
    failure: e.failure,
    ...(e.status ? { status: e.status } : {}),
    ...(e.errors.length ? { errors: e.errors } : {}),
  };
  switch (e.failure) {
    case 'not_found':
      return new RegistryError(what === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', `proxy cache: ${e.message}`, detail);
    case 'unauthorized':
      return new RegistryError(
        'DENIED',
        `proxy cache: the upstream registry ${upstream} refused the cache's credentials (${e.message}); an organization administrator must fix the proxy cache configuration`,
        detail,
      );
    default:
      return new RegistryError(
        'UNAVAILABLE',
        `proxy cache: the upstream registry ${upstream} could not be used: ${e.message}`,
        detail,
        502,
      );
  }
}
