// UpstreamClient: reads from one remote OCI/Docker registry (manifests, blobs as streams, tags) with
// Basic or Docker token authentication. See index.ts for the exported API.
import type http from 'node:http';
import type { Readable } from 'node:stream';
import type { DigestAlgorithm } from '../crypto/index.js';
import { digestOf, parseDigest } from '../oci/digest.js';
import { bareMediaType, MT } from '../oci/mediatypes.js';
import { parseChallenge, TokenCache } from './challenge.js';
import {
  describeErrors,
  parseOciErrors,
  UpstreamDigestError,
  UpstreamNotFoundError,
  UpstreamStatusError,
  UpstreamUnauthorizedError,
} from './errors.js';
import { isDigestReference, parseUpstreamRegistry, type UpstreamRegistry } from './reference.js';
import { readBody, Transport } from './transport.js';
import type { ProxySettings } from './proxy.js';

export interface UpstreamOptions {
  /** "host[:port][/namespace]" or a parsed UpstreamRegistry. */
  registry: string | UpstreamRegistry;
  username?: string;
  password?: string;
  /** Plain HTTP allowed and TLS certificates not verified (default false). */
  insecure?: boolean;
  /** Force http or https (default https; with insecure, https without verification then plain http). */
  scheme?: 'http' | 'https';
  /** Socket idle timeout (default 30 000 ms). */
  timeoutMs?: number;
  userAgent?: string;
  /** An outbound proxy for every request (forward for http://, CONNECT for https://), with its no_proxy list. */
  proxy?: ProxySettings;
  /** Clock for the token cache (tests). */
  now?: () => number;
}

/** Every manifest type Berth stores, in the Accept header of each manifest request. */
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.ociManifest, MT.dockerList, MT.dockerManifest].join(', ');
/** The largest manifest read (as distribution's default limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size: number;
}

export interface Manifest extends ManifestHead {
  bytes: Buffer;
}

export interface Blob {
  /** The body, unverified: pipe it through digestVerifier (verify.ts) or hash it. */
  stream: Readable;
  /** Content-Length when the upstream sent one. */
  size?: number;
}

export class UpstreamClient {
  readonly registry: UpstreamRegistry;
  private readonly transport: Transport;
  private readonly tokens: TokenCache;
  private basic = false;

  constructor(private readonly opts: UpstreamOptions) {
    this.registry = typeof opts.registry === 'string' ? parseUpstreamRegistry(opts.registry) : opts.registry;
    this.tokens = new TokenCache(opts.now);
    this.transport = new Transport({
      apiHost: this.registry.apiHost,
      insecure: opts.insecure ?? false,
      scheme: opts.scheme,
      timeoutMs: opts.timeoutMs ?? 30_000,
      userAgent: opts.userAgent ?? 'berth-proxy-cache/1',
      ...(opts.proxy ? { proxy: opts.proxy } : {}),
    });
  }

  get host(): string {
    return this.registry.apiHost;
  }

  /** The upstream repository for a path under this registry's namespace prefix. */
  repository(path: string): string {
    return this.registry.prefix ? `${this.registry.prefix}/${path}` : path;
  }

  close(): void {
    this.transport.close();
  }

  private basicHeader(): string | undefined {
    const { username, password } = this.opts;
    if (!username) return undefined;
    return `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
  }

  private who(): string {
    return this.opts.username ? `the credentials of "${this.opts.username}"` : 'anonymous access';
  }

  /** Fetches a bearer token from the realm of a challenge (with Basic credentials when configured). */
  private async fetchToken(params: Record<string, string>, scope: string): Promise<void> {
    if (!params.realm) throw new UpstreamStatusError(`${this.host} asked for a bearer token without a realm`, 401);
    let u: URL;
    try {
      u = new URL(params.realm);
    } catch {
      throw new UpstreamStatusError(`${this.host} named an invalid token realm "${params.realm}"`, 401);
    }
    if (params.service) u.searchParams.set('service', params.service);
    const sc = scope || params.scope;
    if (sc) for (const s of sc.split(' ')) u.searchParams.append('scope', s);
    const auth = this.basicHeader();
    const res = await this.transport.send('GET', u.toString(), auth ? { authorization: auth } : {});
    const body = await readBody(res, 1024 * 1024, this.host);
    const status = res.statusCode ?? 0;
    if (status === 401 || status === 403)
      throw new UpstreamUnauthorizedError(
        `the token endpoint of ${this.host} refused ${this.who()} (${status}${describeErrors(parseOciErrors(body), body) ? `: ${describeErrors(parseOciErrors(body), body)}` : ''})`,
        status,
        parseOciErrors(body),
      );
    if (status !== 200)
      throw new UpstreamStatusError(
        `the token endpoint of ${this.host} answered ${status}: ${describeErrors(parseOciErrors(body), body)}`,
        status,
        parseOciErrors(body),
      );
    let j: { token?: string; access_token?: string; expires_in?: number };
    try {
      j = JSON.parse(body.toString('utf8'));
    } catch {
      throw new UpstreamStatusError(`the token endpoint of ${this.host} did not answer JSON`, status);
    }
    const token = j.token ?? j.access_token;
    if (!token) throw new UpstreamStatusError(`the token endpoint of ${this.host} returned no token`, status);
    this.tokens.set(scope, token, j.expires_in);
  }

  /**
   * A request to /v2/… authenticated as the registry asks (cached token for `scope`, Basic, or a new
   * token after a 401 challenge). Resolves with the response, body unread; 401 after authenticating
   * is UpstreamUnauthorizedError.
   */
  async request(method: string, path: string, scope: string, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
    const h = { ...headers };
    const token = this.tokens.get(scope);
    if (token) h.authorization = `Bearer ${token}`;
    else if (this.basic && this.basicHeader()) h.authorization = this.basicHeader() as string;
    let res = await this.transport.send(method, path, h);
    if (res.statusCode !== 401) return res;
    res.resume();
    const ch = parseChallenge(res.headers['www-authenticate'] as string | undefined);
    if (ch?.scheme === 'bearer') {
      this.tokens.delete(scope);
      await this.fetchToken(ch.params, scope);
      h.authorization = `Bearer ${this.tokens.get(scope)}`;
    } else if (ch?.scheme === 'basic' && this.basicHeader() && !h.authorization?.startsWith('Basic')) {
      this.basic = true;
      h.authorization = this.basicHeader() as string;
    } else {
      throw new UpstreamUnauthorizedError(
        ch?.scheme === 'basic'
          ? `${this.host} wants a username and password (${this.opts.username ? `it refused "${this.opts.username}"` : 'none configured'})`
          : `${this.host} answered 401 without a usable WWW-Authenticate challenge`,
      );
    }
    res = await this.transport.send(method, path, h);
    if (res.statusCode === 401) {
      const body = method === 'HEAD' ? Buffer.alloc(0) : await readBody(res, 64 * 1024, this.host);
      res.resume();
      throw new UpstreamUnauthorizedError(`${this.host} refused ${this.who()}`, 401, parseOciErrors(body));
    }
    return res;
  }

  /** Turns a non-2xx answer into the matching typed error (reads a bounded body). */
  private async fail(res: http.IncomingMessage, what: string, method: string): Promise<never> {
    const status = res.statusCode ?? 0;
    const body = method === 'HEAD' ? Buffer.alloc(0) : await readBody(res, 64 * 1024, this.host).catch(() => Buffer.alloc(0));
    res.resume();
    const errors = parseOciErrors(body);
    const detail = describeErrors(errors, body);
    const tail = detail ? `: ${detail}` : '';
    if (status === 404) throw new UpstreamNotFoundError(`${what} not found on ${this.host}${tail}`, errors);
    if (status === 401 || status === 403)
      throw new UpstreamUnauthorizedError(`${this.host} denied ${this.who()} for ${what} (${status}${tail})`, status, errors);
    throw new UpstreamStatusError(`${this.host} answered ${status} for ${what}${tail}`, status, errors);
  }

  /**
   * Checks the registry the way `docker login` does: GET /v2/, and when it challenges, the token endpoint
   * (or Basic) with the configured credentials. Resolves when reachable and the credentials are accepted.
   */
  async ping(): Promise<void> {
    const res = await this.transport.send('GET', '/v2/');
    res.resume();
    if (res.statusCode === 200) {
      return;
    }
    if (res.statusCode !== 401) return this.fail(res, 'the registry API (/v2/)', 'GET');
    const ch = parseChallenge(res.headers['www-authenticate'] as string | undefined);
    if (ch?.scheme === 'bearer') {
      await this.fetchToken(ch.params, '');
      return;
    }
    const auth = this.basicHeader();
    if (!auth) throw new UpstreamUnauthorizedError(`${this.host} requires a username and password`);
    const again = await this.transport.send('GET', '/v2/', { authorization: auth });
    again.resume();
    if (again.statusCode === 401) throw new UpstreamUnauthorizedError(`${this.host} refused ${this.who()}`);
    if (again.statusCode !== 200) return this.fail(again, 'the registry API (/v2/)', 'GET');
    this.basic = true;
  }

  private static scope(repo: string): string {
    return `repository:${repo}:pull`;
  }

  /** HEAD of a manifest by tag or digest: its digest (Docker-Content-Digest, or a GET when absent), media type, size. */
  async headManifest(repo: string, reference: string): Promise<ManifestHead> {
    const res = await this.request('HEAD', `/v2/${repo}/manifests/${reference}`, UpstreamClient.scope(repo), {
      accept: MANIFEST_ACCEPT,
    });
    if (res.statusCode !== 200) return this.fail(res, `manifest ${repo}:${reference}`, 'HEAD');
    res.resume();
    const claimed = res.headers['docker-content-digest'] as string | undefined;
    if (!claimed || !parseDigest(claimed)) {
      const m = await this.getManifest(repo, reference);
      return { digest: m.digest, mediaType: m.mediaType, size: m.size };
    }
    if (isDigestReference(reference) && claimed !== reference)
      throw new UpstreamDigestError(`${this.host} answered digest ${claimed} for manifest ${reference}`, reference, claimed);
    return {
      digest: claimed,
      mediaType: bareMediaType(res.headers['content-type']),
      size: Number(res.headers['content-length'] ?? 0),
    };
  }

  /**
   * GET of a manifest by tag or digest (Accept: every OCI and Docker v2 manifest type). By digest the bytes
   * are verified against it; by tag the digest is computed (sha256) and checked against Docker-Content-Digest.
   */
  async getManifest(repo: string, reference: string): Promise<Manifest> {
    const res = await this.request('GET', `/v2/${repo}/manifests/${reference}`, UpstreamClient.scope(repo), {
      accept: MANIFEST_ACCEPT,
    });
    if (res.statusCode !== 200) return this.fail(res, `manifest ${repo}:${reference}`, 'GET');
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, this.host);
    let mediaType = bareMediaType(res.headers['content-type']);
    if (!mediaType || mediaType === 'application/json' || mediaType === 'text/plain') {
      try {
        mediaType = String((JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? mediaType);
      } catch {
        /* leave as sent */
      }
    }
    const claimed = res.headers['docker-content-digest'] as string | undefined;
    let digest: string;
    if (isDigestReference(reference)) {
      const d = parseDigest(reference);
      if (!d) throw new UpstreamDigestError(`"${reference}" is not a supported digest`, reference, '');
      digest = digestOf(bytes, d.algorithm as DigestAlgorithm);
      if (digest !== reference)
        throw new UpstreamDigestError(`${this.host} sent a manifest with digest ${digest} for ${reference}`, reference, digest);
    } else {
      const alg = (claimed && parseDigest(claimed)?.algorithm) || 'sha256';
      digest = digestOf(bytes, alg as DigestAlgorithm);
      if (claimed && parseDigest(claimed) && claimed !== digest)
        throw new UpstreamDigestError(
          `${this.host} sent manifest bytes with digest ${digest} but Docker-Content-Digest ${claimed} for ${repo}:${reference}`,
          claimed,
          digest,
        );
    }
    return { bytes, digest, mediaType, size: bytes.length };
  }

  /** GET of a blob: the response body as a stream (not verified here; see digestVerifier). */
  async getBlob(repo: string, digest: string): Promise<Blob> {
    const res = await this.request('GET', `/v2/${repo}/blobs/${digest}`, UpstreamClient.scope(repo));
    if (res.statusCode !== 200) return this.fail(res, `blob ${digest} of ${repo}`, 'GET');
    const len = res.headers['content-length'];
    return { stream: res, size: len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined };
  }

  /** HEAD of a blob: resolves when the registry has it in `repo`, with its size when it sent Content-Length. */
  async headBlob(repo: string, digest: string): Promise<{ size?: number }> {
    const res = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, UpstreamClient.scope(repo));
    if (res.statusCode !== 200) return this.fail(res, `blob ${digest} of ${repo}`, 'HEAD');
    res.resume();
    const len = res.headers['content-length'];
    return len !== undefined && /^\d+$/.test(len) ? { size: Number(len) } : {};
  }

  /** Every tag of a repository, following Link: <…>; rel="next" pages (`pageSize` as n= on the first page). */
  async listTags(repo: string, opts: { pageSize?: number; limit?: number } = {}): Promise<string[]> {
    const out: string[] = [];
    let next: string | undefined = `/v2/${repo}/tags/list${opts.pageSize ? `?n=${opts.pageSize}` : ''}`;
    const limit = opts.limit ?? 100_000;
    while (next && out.length < limit) {
      const res = await this.request('GET', next, UpstreamClient.scope(repo));
      if (res.statusCode !== 200) return this.fail(res, `the tag list of ${repo}`, 'GET');
      const body = await readBody(res, 16 * 1024 * 1024, this.host);
      let tags: unknown;
      try {
        tags = (JSON.parse(body.toString('utf8')) as { tags?: unknown }).tags;
      } catch {
        throw new UpstreamStatusError(`${this.host} sent a tag list that is not JSON`, 200);
      }
      if (tags !== null && tags !== undefined && !Array.isArray(tags))
        throw new UpstreamStatusError(`${this.host} sent a tag list without a tags array`, 200);
      for (const t of (tags as unknown[] | null) ?? []) out.push(String(t));
      const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
      next = link ? link[1] : undefined;
    }
    return out;
  }
}
