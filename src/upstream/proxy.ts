// Reaching a remote registry through an outbound proxy (a mirror's external_registry_config.proxy, in Quay's shape):
// http:// targets go to an HTTP forward proxy (the request line carries the absolute URL), https:// targets through
// a CONNECT tunnel (TLS to the registry end to end, inside the proxy's TCP stream). no_proxy lists hosts that are
// reached directly: comma-separated host names or IPs (optionally with :port), domain suffixes (".example.com",
// "*.example.com" or "example.com", which also covers its subdomains), or "*" for every host.
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';

export interface ProxySettings {
  http_proxy?: string | null;
  https_proxy?: string | null;
  no_proxy?: string | null;
}

/** A failure of the proxy itself (unreachable, or it refused to forward or tunnel): the message names it. */
export class ProxyError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The proxy as logs and errors may show it: scheme, host and port, never its credentials. */
export function proxyLabel(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/** A proxy URL as a view may show it: the password, if any, replaced by ******** (the rest as written). */
export function maskProxyPassword(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1********@');
}

function hostOf(h: string): string {
  return h.toLowerCase().replace(/^\[|\]$/g, '');
}

/** True when `no_proxy` says `target` is reached directly. */
export function bypassesProxy(target: URL, noProxy: string | null | undefined): boolean {
  if (!noProxy) return false;
  const host = hostOf(target.hostname);
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  for (const raw of noProxy.split(/[,\s]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: string | undefined;
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.startsWith('[') ? entry : entry.replace(/^\*\./, '.'));
    if (m && m[2] && !m[1].includes(':')) {
      entry = m[1];
      entryPort = m[2];
    } else if (m) entry = m[1];
    entry = hostOf(entry);
    if (entryPort && entryPort !== port) continue;
    const suffix = entry.startsWith('.') ? entry.slice(1) : entry;
    if (host === suffix || host.endsWith(`.${suffix}`)) return true;
  }
  return false;
}

const URL_SHAPE = 'http://[user:password@]host[:port] or https://[user:password@]host[:port]';

/**
 * Why `value` cannot be a proxy URL (http_proxy / https_proxy), or undefined when it can. The reason never repeats
 * the value (it may hold a password). Accepted: http:// or https://, a host, an optional port, optional
 * percent-encoded user:password@ (a user name is required with a password); nothing after the port but "/".
 */
export function proxyUrlProblem(value: string): string | undefined {
  if (value !== value.trim() || /\s/.test(value)) return `must not contain spaces (expected ${URL_SHAPE})`;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value);
  if (!scheme || !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return `must start with http:// or https:// (expected ${URL_SHAPE})`;
  const name = scheme[1].toLowerCase();
  if (name !== 'http' && name !== 'https')
    return `uses the scheme ${name}://, which is not supported: the proxy must be an HTTP proxy (http://) or an HTTP proxy over TLS (https://)`;
  const rest = value.slice(scheme[0].length + 2);
  if (rest.startsWith('/') || rest === '') return `has no host (expected ${URL_SHAPE})`;
  const authority = rest.split(/[/?#]/)[0];
  if ((authority.match(/@/g) ?? []).length > 1) return 'has more than one "@": percent-encode an "@" in the user name or password as %40';
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return `is not a valid URL (expected ${URL_SHAPE}; the port must be 1-65535)`;
  }
  if (!u.hostname) return `has no host (expected ${URL_SHAPE})`;
  if (u.port === '0') return 'has port 0 (the port must be 1-65535)';
  if (u.pathname !== '/' || u.search || u.hash || /[?#]/.test(rest))
    return 'has a path, query or fragment after the host: a proxy URL ends at the port (credentials go before the host, as user:password@)';
  if (u.password && !u.username) return 'has a password but no user name (expected user:password@ before the host)';
  for (const part of [u.username, u.password]) {
    try {
      decodeURIComponent(part);
    } catch {
      return 'has a malformed percent-encoding in its user name or password (write "%" as %25)';
    }
  }
  return undefined;
}

/** Why `value` cannot be a no_proxy list, or undefined when it can (entries as bypassesProxy reads them). */
export function noProxyProblem(value: string): string | undefined {
  for (const raw of value.split(/[,\s]+/)) {
    const entry = raw.trim();
    if (!entry || entry === '*') continue;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry))
      return `entry "${entry.slice(0, 100)}" is a URL: list host names, IPs or domains (optionally with :port), without a scheme`;
    if (
      !/^(\*\.|\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*(:\d{1,5})?$/i.test(entry) &&
      !/^\[[0-9a-f:.]+\](:\d{1,5})?$/i.test(entry) &&
      !/^[0-9a-f]*:[0-9a-f:.]+$/i.test(entry)
    )
      return `entry "${entry.slice(0, 100)}" is not a host name, IP or domain (optionally with :port), ".domain" or "*"`;
  }
  return undefined;
}

/** The proxy `target` goes through under `settings` (https_proxy for https://, http_proxy for http://), if any. */
export function proxyFor(target: URL, settings: ProxySettings | undefined): URL | undefined {
  if (!settings) return undefined;
  const value = target.protocol === 'https:' ? settings.https_proxy : settings.http_proxy;
  if (!value) return undefined;
  if (bypassesProxy(target, settings.no_proxy)) return undefined;
  return new URL(value);
}

/** The Proxy-Authorization header for a proxy URL with credentials. */
export function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username && !proxy.password) return {};
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return { 'proxy-authorization': `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
}

/** A socket-level failure reaching the proxy, as one line naming it. */
export function proxyFailure(proxy: URL, e: NodeJS.ErrnoException): ProxyError {
  if (e instanceof ProxyError) return e;
  const p = proxyLabel(proxy);
  const code = e.code ?? '';
  if (code === 'ECONNREFUSED') return new ProxyError(`cannot connect to the proxy ${p}: connection refused`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new ProxyError(`cannot resolve the host name of the proxy ${p}`);
  if (code === 'ETIMEDOUT') return new ProxyError(`connecting to the proxy ${p} timed out`);
  return new ProxyError(`the proxy ${p} failed: ${e.message.split('\n')[0].trim()}`);
}

/** An HTTPS agent whose connections are CONNECT tunnels through `proxy` (keep-alive pools them per target). */
export class TunnelAgent extends https.Agent {
  constructor(
    private readonly proxy: URL,
    opts: https.AgentOptions,
  ) {
    super(opts);
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const target = `${options.host}:${options.port ?? 443}`;
    const connect = (this.proxy.protocol === 'https:' ? https : http).request({
      host: this.proxy.hostname,
      port: this.proxy.port || (this.proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: target,
      setHost: false,
      headers: { host: target, ...proxyAuthorization(this.proxy) },
      agent: false,
      timeout: typeof options.timeout === 'number' ? options.timeout : 30_000,
    });
    const fail = (e: Error) => {
      connect.removeAllListeners();
      connect.on('error', () => undefined);
      callback?.(e, undefined as unknown as Duplex);
    };
    connect.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        fail(
          new ProxyError(
            `the proxy ${proxyLabel(this.proxy)} refused to tunnel to ${target}: ${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
            res.statusCode,
          ),
        );
        return;
      }
      connect.removeAllListeners();
      // TLS to the registry inside the tunnel (certificate checked against the registry's name as usual).
      const tls = super.createConnection({ ...options, socket } as https.RequestOptions);
      if (tls) callback?.(null, tls);
    });
    connect.once('timeout', () => connect.destroy(new ProxyError(`the proxy ${proxyLabel(this.proxy)} did not answer CONNECT ${target}`)));
    connect.once('error', (e) => fail(proxyFailure(this.proxy, e)));
    connect.end();
    return undefined;
  }
}
