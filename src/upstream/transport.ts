// One HTTP(S) exchange with a remote registry: scheme choice (https, plain http, or https without
// certificate checks then plain http when `insecure`), redirects, timeouts, socket errors as
// UpstreamUnreachableError. Bodies are left unread for the caller (streams) or read with a bound.
import http from 'node:http';
import https from 'node:https';
import { UpstreamError, UpstreamUnreachableError } from './errors.js';
import { ProxyError, proxyAuthorization, proxyFailure, proxyFor, proxyLabel, TunnelAgent, type ProxySettings } from './proxy.js';

export interface TransportOptions {
  /** host[:port] requests go to. */
  apiHost: string;
  /** Plain HTTP allowed and TLS certificates not verified. */
  insecure: boolean;
  /** Force a scheme (default: https; with `insecure`, https without verification, falling back to http). */
  scheme?: 'http' | 'https';
  /** Socket idle timeout in ms (default 30 s). */
  timeoutMs: number;
  userAgent: string;
  /** An outbound proxy (forward for http://, CONNECT for https://) and the hosts that bypass it (proxy.ts). */
  proxy?: ProxySettings;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A TLS handshake against a plain-HTTP server fails like this. */
function notTls(e: NodeJS.ErrnoException): boolean {
  return e.code === 'EPROTO' || e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(e.message);
}

export class Transport {
  private scheme: 'http' | 'https' | undefined;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly httpsAgent: https.Agent;
  /** Connections through the proxy, made when first needed: CONNECT tunnels, and keep-alive to a forward proxy. */
  private tunnelAgent: TunnelAgent | undefined;
  private forwardAgent: http.Agent | undefined;

  constructor(private readonly opts: TransportOptions) {
    this.scheme = opts.scheme ?? (opts.insecure ? undefined : 'https');
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 32, rejectUnauthorized: !opts.insecure });
  }

  /** The base URL once the scheme is known (https until a probe chose http). */
  get base(): string {
    return `${this.scheme ?? 'https'}://${this.opts.apiHost}`;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.tunnelAgent?.destroy();
    this.forwardAgent?.destroy();
  }

  /**
   * Sends a request and resolves with the response once its headers arrived (body unread). Follows
   * redirects for GET/HEAD (dropping Authorization when the host changes). `pathOrUrl` is /v2/… or absolute.
   */
  async send(method: string, pathOrUrl: string, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
    if (this.scheme === undefined && !/^https?:\/\//.test(pathOrUrl)) {
      try {
        const res = await this.follow(method, new URL(pathOrUrl, `https://${this.opts.apiHost}`), headers, 5);
        this.scheme = 'https';
        return res;
      } catch (e) {
        if (!(e instanceof UpstreamUnreachableError) || !(e.cause && notTls(e.cause as NodeJS.ErrnoException))) throw e;
        this.scheme = 'http';
      }
    }
    return this.follow(method, new URL(pathOrUrl, this.base), headers, 5);
  }

  private async follow(method: string, u: URL, headers: Record<string, string>, left: number): Promise<http.IncomingMessage> {
    const res = await this.once(method, u, headers);
    if (!REDIRECTS.has(res.statusCode ?? 0) || !res.headers.location || left <= 0) return res;
    res.resume();
    const next = new URL(res.headers.location, u);
    const h = { ...headers };
    if (next.host !== u.host) delete h.authorization;
    return this.follow(method === 'HEAD' ? 'HEAD' : 'GET', next, h, left - 1);
  }

  private once(method: string, u: URL, headers: Record<string, string>): Promise<http.IncomingMessage> {
    const secure = u.protocol === 'https:';
    const sameHost = u.host === this.opts.apiHost;
    const proxy = proxyFor(u, this.opts.proxy);
    const h = { 'user-agent': this.opts.userAgent, ...headers };
    return new Promise((resolve, reject) => {
      let req: http.ClientRequest;
      if (proxy && secure) {
        this.tunnelAgent ??= new TunnelAgent(proxy, { keepAlive: true, maxSockets: 32, rejectUnauthorized: !this.opts.insecure });
        req = https.request(u, { method, headers: h, agent: this.tunnelAgent });
      } else if (proxy) {
        // A forward proxy: the request line names the absolute URL; Host stays the registry's.
        const viaTls = proxy.protocol === 'https:';
        this.forwardAgent ??= viaTls
          ? new https.Agent({ keepAlive: true, maxSockets: 32 })
          : new http.Agent({ keepAlive: true, maxSockets: 32 });
        req = (viaTls ? https : http).request({
          host: proxy.hostname,
          port: proxy.port || (viaTls ? 443 : 80),
          method,
          path: u.href,
          setHost: false,
          headers: { host: u.host, ...h, ...proxyAuthorization(proxy) },
          agent: this.forwardAgent,
        });
      } else {
        req = (secure ? https : http).request(u, {
          method,
          headers: h,
          agent: sameHost ? (secure ? this.httpsAgent : this.httpAgent) : undefined,
          // A redirect to a CDN keeps certificate checks unless insecure.
          ...(secure && !sameHost ? { rejectUnauthorized: !this.opts.insecure } : {}),
        });
      }
      req.setTimeout(this.opts.timeoutMs, () =>
        req.destroy(new UpstreamUnreachableError(`${this.opts.apiHost} did not answer within ${this.opts.timeoutMs} ms`)),
      );
      req.on('error', (e) => {
        const err = e as NodeJS.ErrnoException;
        // Through a forward proxy every socket error is the proxy's; through a tunnel only the CONNECT's are.
        if (proxy && (err instanceof ProxyError || (!secure && !(err instanceof UpstreamError)))) {
          const p = proxyFailure(proxy, err);
          const unreachable = new UpstreamUnreachableError(`${p.message} (reaching ${u.host})`);
          unreachable.cause = err;
          reject(unreachable);
        } else reject(this.explain(err));
      });
      req.on('response', (res) => {
        // An idle body is cut with the same timeout (the request's timer covers the socket while it is read).
        res.on('error', () => undefined);
        if (proxy && !secure && res.statusCode === 407) {
          res.resume();
          reject(
            new UpstreamUnreachableError(
              `the proxy ${proxyLabel(proxy)} refused the request to ${u.host}: 407 Proxy Authentication Required`,
            ),
          );
          return;
        }
        resolve(res);
      });
      req.end();
    });
  }

  /** A socket or TLS failure as one line naming the host. */
  explain(e: NodeJS.ErrnoException): UpstreamError {
    if (e instanceof UpstreamError) return e;
    const host = this.opts.apiHost;
    const code = e.code ?? '';
    let msg: string;
    if (code === 'ECONNREFUSED') msg = `cannot connect to ${host}: connection refused`;
    else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') msg = `cannot resolve the host name of ${host}`;
    else if (code === 'ETIMEDOUT') msg = `connecting to ${host} timed out`;
    else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code) || code === 'ERR_TLS_CERT_ALTNAME_INVALID')
      msg = `the TLS certificate of ${host} is not trusted (${e.message}); set insecure to skip verification`;
    else if (notTls(e)) msg = `${host} does not speak HTTPS (it may be a plain-HTTP registry); set insecure to allow plain HTTP`;
    else msg = `request to ${host} failed: ${e.message.split('\n')[0].trim()}`;
    const err = new UpstreamUnreachableError(msg);
    err.cause = e;
    return err;
  }
}

/** Reads a whole response body, at most `limit` bytes (an UpstreamError beyond it). */
export function readBody(res: http.IncomingMessage, limit: number, host: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        res.destroy();
        reject(new UpstreamError('upstream_error', `${host} sent a body larger than ${limit} bytes`, res.statusCode));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', (e) => reject(new UpstreamUnreachableError(`reading from ${host} failed: ${e.message}`)));
    res.on('aborted', () => reject(new UpstreamUnreachableError(`${host} closed the connection mid-body`)));
  });
}
