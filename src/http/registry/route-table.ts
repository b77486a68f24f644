// The whole /v2 route table in one place. Repository names contain slashes, so the
// path after /v2/ is matched here rather than by the router.
import type { RegistryRequest } from '../../services/index.js';

export type RegistryRoute = 'base' | 'catalog' | 'tags' | 'manifest' | 'blob' | 'upload-start' | 'upload' | 'referrers';

export interface RouteMatch {
  route: RegistryRoute;
  /** The route pattern, for logs and metric labels (never the raw path). */
  pattern: string;
  name?: string;
  ref?: string;
}

// The `s` flag: a name with CR or LF still matches its route, so the name check answers NAME_INVALID.
const TABLE: { route: RegistryRoute; pattern: string; re: RegExp }[] = [
  { route: 'base', pattern: '/v2/', re: /^$/s },
  { route: 'catalog', pattern: '/v2/_catalog', re: /^_catalog$/s },
  { route: 'tags', pattern: '/v2/:name/tags/list', re: /^(.+)\/tags\/list$/s },
  { route: 'manifest', pattern: '/v2/:name/manifests/:reference', re: /^(.+)\/manifests\/([^/]+)$/s },
  { route: 'upload-start', pattern: '/v2/:name/blobs/uploads/', re: /^(.+)\/blobs\/uploads\/?$/s },
  { route: 'upload', pattern: '/v2/:name/blobs/uploads/:uuid', re: /^(.+)\/blobs\/uploads\/([^/]+)$/s },
  { route: 'blob', pattern: '/v2/:name/blobs/:digest', re: /^(.+)\/blobs\/([^/]+)$/s },
  { route: 'referrers', pattern: '/v2/:name/referrers/:digest', re: /^(.+)\/referrers\/([^/]+)$/s },
];

/** Every /v2 route pattern (the authorization matrix test checks it covers each one). */
export const REGISTRY_PATTERNS: readonly { route: RegistryRoute; pattern: string }[] = TABLE.map(({ route, pattern }) => ({
  route,
  pattern,
}));

/** Matches the part of the path after "/v2/" (already percent-decoded, without the query). */
export function matchRegistryPath(rest: string): RouteMatch | undefined {
  for (const { route, pattern, re } of TABLE) {
    const m = re.exec(rest);
    if (m) return { route, pattern, name: m[1], ref: m[2] };
  }
  return undefined;
}

/** What a request on a matched route asks of the access policy: the action on the named repository. */
export function registryRequest(match: RouteMatch, method: string): RegistryRequest {
  const { route, name } = match;
  if (route === 'base') return {};
  if (route === 'catalog') return { catalog: true };
  if (method === 'DELETE' && (route === 'manifest' || route === 'blob')) return { name, action: 'delete' };
  if (route === 'upload-start' || route === 'upload' || (route === 'manifest' && method === 'PUT')) {
    return { name, action: 'push', createsRepository: true };
  }
  return { name, action: 'pull' };
}
