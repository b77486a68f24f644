// A small OCI distribution client for charts: the Docker token flow (WWW-Authenticate Bearer -> token
// endpoint with Basic credentials -> Bearer), Basic challenges, TLS with extra CAs or verification off,
// plain HTTP; every failure a user meets becomes one explanatory line (ChartError).
import { digestOf } from '../oci/digest.js';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { ChartError } from './errors.js';
import type { CredentialStore, Credentials } from './credentials.js';

export interface TransportOptions {
  /** PEM file of a CA to trust besides the system and Node stores (--ca-file). */
  caFile?: string;
  /** Accept any server certificate (--insecure-skip-tls-verify). */
  insecureSkipTlsVerify?: boolean;
  /** Speak http:// instead of https:// (--plain-http). */
  plainHttp?: boolean;
  /** Bytes of a large request body sent so far (a blob upload), for a progress line. */
  onUpload?(sent: number, total: number): void;
}

/** Bodies larger than this are written in chunks of this size, each reported to onUpload. */
const UPLOAD_CHUNK = 256 * 1024;

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export const sha256 = (b: Uint8Array) => digestOf(b);

/** Parses `Bearer realm="…",service="…",scope="…"` (or Basic) into its scheme and parameters. */
export function parseChallenge(header: string | undefined): { scheme: string; params: Record<string, string> } | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?/g;
  for (const p of m[2].matchAll(re)) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  return { scheme: m[1].toLowerCase(), params };
}

const SYSTEM_CA_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

function trustedCas(caFile?: string): string[] {
  const cas = [...rootCertificates];
  // Like helm, trust the operating system's store (where `update-ca-certificates` puts a local CA).
  for (const f of SYSTEM_CA_FILES) {
    if (existsSync(f)) {
      try {
        cas.push(readFileSync(f, 'utf8'));
        break;
      } catch {
        /* unreadable: skip */
      }
    }
  }
  if (process.env.NODE_EXTRA_CA_CERTS && existsSync(process.env.NODE_EXTRA_CA_CERTS))
    cas.push(readFileSync(process.env.NODE_EXTRA_CA_CERTS, 'utf8'));
  if (caFile) {
    try {
      cas.push(readFileSync(caFile, 'utf8'));
    } catch (e) {
      throw new ChartError(`cannot read --ca-file ${caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return cas;
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED',
]);

/** One registry host: requests with authentication handled, tokens cached per scope. */
export class RegistryClient {
  readonly base: string;
  private readonly agent: http.Agent;
  private readonly tokens = new Map<string, string>();
  private basic?: string;

  constructor(
    readonly host: string,
    private readonly creds: CredentialStore | undefined,
    readonly opts: TransportOptions = {},
    private readonly override?: Credentials,
  ) {
    this.base = `${opts.plainHttp ? 'http' : 'https'}://${host}`;
    this.agent = opts.plainHttp
      ? new http.Agent({ keepAlive: true })
      : new https.Agent({ keepAlive: true, ca: trustedCas(opts.caFile), rejectUnauthorized: !opts.insecureSkipTlsVerify });
  }

  close(): void {
    this.agent.destroy();
  }

  private credentials(): Credentials | undefined {
    return this.override ?? this.creds?.get(this.host);
  }

  /** One HTTP exchange, following redirects (without our Authorization header when the host changes). */
  async raw(method: string, url: string, headers: Record<string, string> = {}, body?: Buffer, redirects = 5): Promise<Reply> {
    const u = new URL(url, this.base);
    const mod = u.protocol === 'https:' ? https : http;
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = mod.request(
        u,
        {
          method,
          headers: {
            'user-agent': 'berth-chart/0.1 (helm-compatible)',
            ...headers,
            ...(body ? { 'content-length': String(body.length) } : {}),
          },
          agent: u.origin === new URL(this.base).origin ? this.agent : undefined,
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out after 60 s')));
      req.on('error', (e) => reject(this.explain(e as NodeJS.ErrnoException)));
      const onUpload = this.opts.onUpload;
      if (!body || body.length <= UPLOAD_CHUNK || !onUpload) {
        req.end(body);
        return;
      }
      // Chunk by chunk, waiting for the socket to drain, so the count follows what was really sent.
      let off = 0;
      const pump = () => {
        while (off < body.length) {
          const end = Math.min(off + UPLOAD_CHUNK, body.length);
          const more = req.write(body.subarray(off, end));
          off = end;
          onUpload(off, body.length);
          if (!more) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    if ([301, 302, 303, 307, 308].includes(reply.status) && reply.headers.location && redirects > 0) {
      const next = new URL(reply.headers.location, u);
      const h = { ...headers };
      if (next.host !== u.host) delete h.authorization;
      return this.raw(
        method === 'HEAD' || reply.status === 303 ? (method === 'HEAD' ? 'HEAD' : 'GET') : method,
        next.toString(),
        h,
        reply.status === 303 ? undefined : body,
        redirects - 1,
      );
    }
    return reply;
  }

  /** Turns a socket or TLS failure into one line that says what to do. */
  private explain(e: NodeJS.ErrnoException): ChartError {
    const code = e.code ?? '';
    if (TLS_TRUST_CODES.has(code)) {
      return new ChartError(
        `the TLS certificate of ${this.host} is not trusted (${e.message}): pass --ca-file <ca.crt> (the CA that \`berth certs init\` wrote), add that CA to the system store (update-ca-certificates), or use --insecure-skip-tls-verify`,
      );
    }
    if (code === 'CERT_HAS_EXPIRED')
      return new ChartError(
        `the TLS certificate of ${this.host} has expired: renew it on the server (berth certs init) or use --insecure-skip-tls-verify`,
      );
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      return new ChartError(
        `the TLS certificate of ${this.host} is not valid for that name (${e.message}): use the host name in the certificate, or re-create it with berth certs init --hostname`,
      );
    if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(e.message))
      return new ChartError(`${this.host} does not speak HTTPS: if it is a plain-HTTP registry, add --plain-http`);
    if (code === 'ECONNREFUSED')
      return new ChartError(`cannot connect to ${this.host}: connection refused (is the registry running on that port?)`);
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ChartError(`cannot resolve host name of ${this.host}`);
    if (code === 'ECONNRESET' && !this.opts.plainHttp)
      return new ChartError(
        `${this.host} closed the connection during the TLS handshake: if it is a plain-HTTP registry, add --plain-http`,
      );
    return new ChartError(`request to ${this.host} failed: ${e.message}`);
  }

  private async fetchToken(challenge: Record<string, string>, scope: string | undefined): Promise<string> {
    if (!challenge.realm) throw new ChartError(`${this.host} asked for a bearer token without a realm`);
    const u = new URL(challenge.realm);
    if (challenge.service) u.searchParams.set('service', challenge.service);
    const sc = scope ?? challenge.scope;
    if (sc) for (const s of sc.split(' ')) u.searchParams.append('scope', s);
    const c = this.credentials();
    const headers: Record<string, string> = c
      ? { authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` }
      : {};
    const r = await this.raw('GET', u.toString(), headers);
    if (r.status === 401) {
      throw new ChartError(
        c
          ? `${this.host} refused the credentials of "${c.username}": run \`berth login ${this.host}\` again`
          : `not logged in to ${this.host}: run \`berth login ${this.host}\``,
      );
    }
    if (r.status === 429)
      throw new ChartError(
        `${this.host} is refusing logins for a while after too many failures: wait ${r.headers['retry-after'] ?? 'a little'} s and try again`,
      );
    if (r.status !== 200)
      throw new ChartError(`the token endpoint of ${this.host} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
    const j = JSON.parse(r.body.toString('utf8')) as { token?: string; access_token?: string };
    const token = j.token ?? j.access_token;
    if (!token) throw new ChartError(`the token endpoint of ${this.host} returned no token`);
    return token;
  }

  /** A request to /v2/…, authenticated as the registry asks. `scope` is e.g. repository:helm/etherpad:pull,push. */
  async request(
    method: string,
    pathOrUrl: string,
    opts: { scope?: string; headers?: Record<string, string>; body?: Buffer } = {},
  ): Promise<Reply> {
    const key = opts.scope ?? '';
    const headers = { ...opts.headers };
    const token = this.tokens.get(key);
    if (token) headers.authorization = `Bearer ${token}`;
    else if (this.basic) headers.authorization = this.basic;
    let r = await this.raw(method, pathOrUrl, headers, opts.body);
    if (r.status !== 401) return r;
    const ch = parseChallenge(r.headers['www-authenticate'] as string | undefined);
    if (ch?.scheme === 'bearer') {
      const t = await this.fetchToken(ch.params, opts.scope);
      this.tokens.set(key, t);
      headers.authorization = `Bearer ${t}`;
    } else if (ch?.scheme === 'basic') {
      const c = this.credentials();
      if (!c) throw new ChartError(`not logged in to ${this.host}: run \`berth login ${this.host}\``);
      this.basic = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
      headers.authorization = this.basic;
    } else {
      throw new ChartError(`${this.host} answered 401 without a usable WWW-Authenticate challenge`);
    }
    r = await this.raw(method, pathOrUrl, headers, opts.body);
    if (r.status === 401) {
      const c = this.credentials();
      throw new ChartError(
        c
          ? `${this.host} refused the credentials of "${c.username}": run \`berth login ${this.host}\` again`
          : `not logged in to ${this.host}: run \`berth login ${this.host}\``,
      );
    }
    return r;
  }

  /** Checks credentials the way `docker login` does: GET /v2/ and the token endpoint with Basic credentials. */
  async login(): Promise<void> {
    const r = await this.raw('GET', '/v2/');
    if (r.status === 200) return; // the registry needs no credentials
    if (r.status !== 401) throw new ChartError(`${this.host} answered ${r.status} on /v2/: is it an OCI registry?`);
    const ch = parseChallenge(r.headers['www-authenticate'] as string | undefined);
    const c = this.credentials();
    if (!c) throw new ChartError('a username and password are needed');
    if (ch?.scheme === 'bearer') {
      try {
        await this.fetchToken(ch.params, undefined);
      } catch (e) {
        if (e instanceof ChartError && /refused the credentials/.test(e.message))
          throw new ChartError(`login to ${this.host} failed: wrong username or password`);
        throw e;
      }
      return;
    }
    const again = await this.raw('GET', '/v2/', {
      authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`,
    });
    if (again.status !== 200) throw new ChartError(`login to ${this.host} failed: wrong username or password`);
  }

  /** Throws the registry's own error message (OCI error JSON) as one line. */
  fail(r: Reply, what: string): never {
    let detail = r.body.toString('utf8').slice(0, 500);
    try {
      const j = JSON.parse(detail) as { errors?: { code: string; message: string }[] };
      if (j.errors?.length) detail = j.errors.map((e) => `${e.code}: ${e.message}`).join('; ');
    } catch {
      /* not JSON */
    }
    if (r.status === 403 && !this.credentials())
      throw new ChartError(`${what}: not logged in to ${this.host} (${detail}): run \`berth login ${this.host}\``);
    if (r.status === 403)
      throw new ChartError(
        `${what}: access denied by ${this.host} (${detail}); check your permissions on the repository or \`berth login ${this.host}\` as another user`,
      );
    throw new ChartError(`${what}: ${this.host} answered ${r.status}${detail ? ` (${detail})` : ''}`);
  }

  async pushBlob(repo: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const scope = `repository:${repo}:pull,push`;
    const head = await this.request('HEAD', `/v2/${repo}/blobs/${digest}`, { scope });
    if (head.status === 200) return digest;
    const start = await this.request('POST', `/v2/${repo}/blobs/uploads/`, { scope, headers: { 'content-length': '0' } });
    if (start.status !== 202 || !start.headers.location) this.fail(start, `cannot start an upload to ${repo}`);
    const loc = new URL(start.headers.location, this.base);
    loc.searchParams.set('digest', digest);
    const put = await this.request('PUT', loc.toString(), { scope, headers: { 'content-type': 'application/octet-stream' }, body: data });
    if (put.status !== 201) this.fail(put, `upload of ${digest} to ${repo} failed`);
    return digest;
  }

  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const r = await this.request('PUT', `/v2/${repo}/manifests/${reference}`, {
      scope: `repository:${repo}:pull,push`,
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    if (r.status !== 201) {
      let refused: string | undefined;
      try {
        const e = (JSON.parse(r.body.toString('utf8')) as { errors?: { code: string; message: string }[] }).errors?.[0];
        if (e && (e.code === 'MANIFEST_INVALID' || e.code === 'UNSUPPORTED')) refused = e.message;
      } catch {
        /* not JSON */
      }
      if (refused) throw new ChartError(`${this.host} refused the chart: ${refused}`);
      this.fail(r, `cannot push the manifest of ${repo}:${reference}`);
    }
    return (r.headers['docker-content-digest'] as string | undefined) ?? sha256(bytes);
  }

  /** The manifest under a tag or digest, or undefined when there is none. */
  async getManifest(
    repo: string,
    reference: string,
    accept: string[],
  ): Promise<{ bytes: Buffer; digest: string; mediaType: string } | undefined> {
    const r = await this.request('GET', `/v2/${repo}/manifests/${reference}`, {
      scope: `repository:${repo}:pull`,
      headers: { accept: accept.join(', ') },
    });
    if (r.status === 404) return undefined;
    if (r.status !== 200) this.fail(r, `cannot read ${repo}:${reference}`);
    const digest = sha256(r.body);
    const claimed = r.headers['docker-content-digest'] as string | undefined;
    if (reference.includes(':') && reference !== digest)
      throw new ChartError(`${this.host} sent a manifest with digest ${digest} for ${reference}`);
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest)
      throw new ChartError(`${this.host} sent a manifest whose digest ${digest} differs from Docker-Content-Digest ${claimed}`);
    return { bytes: r.body, digest, mediaType: String(r.headers['content-type'] ?? '').split(';')[0] };
  }

  async getBlob(repo: string, digest: string): Promise<Buffer> {
    const r = await this.request('GET', `/v2/${repo}/blobs/${digest}`, { scope: `repository:${repo}:pull` });
    if (r.status !== 200) this.fail(r, `cannot download ${digest} from ${repo}`);
    if (digest.startsWith('sha256:') && sha256(r.body) !== digest)
      throw new ChartError(`${this.host} sent content for ${digest} that does not match that digest`);
    return r.body;
  }

  /** Every tag of a repository (following Link pages); undefined when the repository does not exist. */
  async tags(repo: string): Promise<string[] | undefined> {
    const out: string[] = [];
    let next: string | undefined = `/v2/${repo}/tags/list`;
    while (next) {
      const r = await this.request('GET', next, { scope: `repository:${repo}:pull` });
      if (r.status === 404) return out.length ? out : undefined;
      if (r.status !== 200) this.fail(r, `cannot list the tags of ${repo}`);
      out.push(...((JSON.parse(r.body.toString('utf8')) as { tags?: string[] | null }).tags ?? []));
      const link = /<([^>]+)>;\s*rel="?next"?/.exec(String(r.headers.link ?? ''));
      next = link ? link[1] : undefined;
    }
    return out;
  }
}
