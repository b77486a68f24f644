// Parsing of remote registry names: "host[:port][/namespace…]" (an upstream registry with an optional
// namespace prefix, as a proxy cache is configured) and "host[:port]/namespace/repo[:tag|@digest]".
import { UpstreamReferenceError } from './errors.js';

/** Docker Hub's names for itself; requests go to its API host. */
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

const HOST_RE =
  /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]{1,5})?$/;
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export interface UpstreamRegistry {
  /** host[:port] as written (docker.io stays docker.io). */
  host: string;
  /** The host requests go to (docker.io -> registry-1.docker.io). */
  apiHost: string;
  /** Namespace prefix ("library" in docker.io/library), "" when none. */
  prefix: string;
}

/** Parses "host[:port][/ns[/ns…]]" (no scheme, no tag). Throws UpstreamReferenceError naming the bad part. */
export function parseUpstreamRegistry(value: string): UpstreamRegistry {
  const v = value.trim();
  if (!v) throw new UpstreamReferenceError('the upstream registry is empty');
  if (/^[a-z]+:\/\//i.test(v))
    throw new UpstreamReferenceError(`the upstream registry "${v}" must be host[:port][/namespace] without a scheme`);
  const [host, ...rest] = v.replace(/\/+$/, '').split('/');
  if (!HOST_RE.test(host)) throw new UpstreamReferenceError(`"${host}" is not a valid registry host[:port]`);
  const port = /:(\d+)$/.exec(host)?.[1];
  if (port && (Number(port) < 1 || Number(port) > 65535)) throw new UpstreamReferenceError(`port ${port} of "${host}" is out of range`);
  for (const c of rest)
    if (!COMPONENT_RE.test(c)) throw new UpstreamReferenceError(`"${c}" in "${v}" is not a valid repository name component`);
  return { host, apiHost: DOCKER_HUB.has(host) ? DOCKER_HUB_API_HOST : host, prefix: rest.join('/') };
}

export interface ImageReference extends UpstreamRegistry {
  /** The repository path on that host ("library/postgres"). */
  repository: string;
  /** Tag or digest, when given. */
  reference?: string;
}

/** Parses "host[:port]/namespace/repo[:tag|@digest]"; the first component must be a host (contain "." or ":" or be localhost). */
export function parseImageReference(value: string): ImageReference {
  let v = value.trim();
  let reference: string | undefined;
  const at = v.indexOf('@');
  if (at >= 0) {
    reference = v.slice(at + 1);
    v = v.slice(0, at);
    if (!DIGEST_RE.test(reference)) throw new UpstreamReferenceError(`"${reference}" is not a valid digest`);
  } else {
    const colon = v.lastIndexOf(':');
    if (colon > v.lastIndexOf('/')) {
      reference = v.slice(colon + 1);
      v = v.slice(0, colon);
      if (!TAG_RE.test(reference)) throw new UpstreamReferenceError(`"${reference}" is not a valid tag`);
    }
  }
  const slash = v.indexOf('/');
  if (slash < 0) throw new UpstreamReferenceError(`"${value}" must be host[:port]/repository[:tag|@digest]`);
  const first = v.slice(0, slash);
  if (!/[.:]/.test(first) && first !== 'localhost')
    throw new UpstreamReferenceError(`"${first}" in "${value}" is not a registry host (it needs a "." or a port)`);
  const reg = parseUpstreamRegistry(v);
  if (!reg.prefix) throw new UpstreamReferenceError(`"${value}" names no repository`);
  return { host: reg.host, apiHost: reg.apiHost, prefix: '', repository: reg.prefix, reference };
}

/** The upstream repository for a local path under a cache: prefix + "/" + path ("library" + "postgres"). */
export function upstreamRepository(reg: UpstreamRegistry, path: string): string {
  return reg.prefix ? `${reg.prefix}/${path}` : path;
}

export function isDigestReference(ref: string): boolean {
  return ref.includes(':');
}
