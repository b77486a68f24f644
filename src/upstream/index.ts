// A client for a remote OCI / Docker registry (no Fastify, no database), used by the proxy cache and
// by repository mirroring. Stable exported API:
//
//   parseUpstreamRegistry("host[:port][/namespace]") -> { host, apiHost, prefix }    (docker.io -> registry-1.docker.io)
//   parseImageReference("host[:port]/ns/repo[:tag|@digest]") -> { host, apiHost, repository, reference? }
//   upstreamRepository(registry, path) -> prefix + "/" + path
//
//   new UpstreamClient({ registry, username?, password?, insecure?, scheme?, timeoutMs?, userAgent?, now? })
//     .ping()                        reachable, credentials accepted (GET /v2/ + token endpoint or Basic)
//     .headManifest(repo, ref)       -> { digest, mediaType, size }
//     .getManifest(repo, ref)        -> { bytes, digest, mediaType, size }   (verified by digest / Docker-Content-Digest)
//     .headBlob(repo, digest)        -> { size? }                            (the registry has it)
//     .getBlob(repo, digest)         -> { stream, size? }                    (unverified: pipe through digestVerifier)
//     .listTags(repo, { pageSize?, limit? }) -> string[]                      (follows Link rel="next")
//     .repository(path)              upstream repository under the registry's namespace prefix
//     .close()
//   `repo` is the upstream repository path ("library/postgres"). Authentication: Basic when the
//   registry asks for it; Docker token auth (401 Bearer realm/service/scope -> GET realm with Basic
//   credentials if any -> token cached per scope until shortly before expires_in). `insecure`: TLS
//   certificates not verified and plain HTTP allowed (https is tried first, http when the server does
//   not speak TLS); `scheme` forces one.
//
//   digestVerifier(digest, size?) -> Transform that errors (UpstreamDigestError) instead of ending on wrong bytes
//
//   Errors (all UpstreamError, `failure` says which): UpstreamUnreachableError ('unreachable'),
//   UpstreamUnauthorizedError ('unauthorized', 401/403), UpstreamNotFoundError ('not_found', 404),
//   UpstreamStatusError ('upstream_error': status + the upstream's OCI `errors`), UpstreamDigestError
//   ('digest_mismatch'), UpstreamReferenceError ('invalid_reference').
export { UpstreamClient, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from './client.js';
export type { UpstreamOptions, Manifest, ManifestHead, Blob } from './client.js';
export { parseUpstreamRegistry, parseImageReference, upstreamRepository, isDigestReference, DOCKER_HUB_API_HOST } from './reference.js';
export type { UpstreamRegistry, ImageReference } from './reference.js';
export { digestVerifier } from './verify.js';
export { parseChallenge, TokenCache } from './challenge.js';
export {
  UpstreamError,
  UpstreamUnreachableError,
  UpstreamUnauthorizedError,
  UpstreamNotFoundError,
  UpstreamStatusError,
  UpstreamDigestError,
  UpstreamReferenceError,
  parseOciErrors,
} from './errors.js';
export type { UpstreamFailure, OciErrorEntry } from './errors.js';
export { bypassesProxy, maskProxyPassword, noProxyProblem, proxyFor, ProxyError, proxyUrlProblem } from './proxy.js';
export type { ProxySettings } from './proxy.js';
