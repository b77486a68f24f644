// An outbound proxy setting as a mirror (external_registry_config.proxy) and a proxy cache organization (proxy) take
// it: Quay's shape {http_proxy, https_proxy, no_proxy}, each a string or null. Every value is checked before anything
// is written; a bad one is refused with the field and the reason (never the value: a proxy URL may hold a password).
import { maskProxyPassword, noProxyProblem, proxyUrlProblem, type ProxySettings } from '../upstream/index.js';
import { invalid } from './accounts/errors.js';

const KEYS = ['http_proxy', 'https_proxy', 'no_proxy'] as const;
const MASK = ':********@';

/** The settings as a view shows them: each proxy URL's password replaced by ******** (maskProxyPassword). */
export function maskedProxySettings(p: ProxySettings): ProxySettings {
  return {
    http_proxy: p.http_proxy ? maskProxyPassword(p.http_proxy) : null,
    https_proxy: p.https_proxy ? maskProxyPassword(p.https_proxy) : null,
    no_proxy: p.no_proxy || null,
  };
}

/**
 * `given` merged over `base` (a key absent from `given` keeps its value; null or "" clears it), checked. `field` names
 * the setting in errors ("external_registry_config.proxy"). Unknown keys and non-strings are refused.
 */
export function mergeProxySettings(base: ProxySettings | undefined, given: unknown, field: string): ProxySettings {
  if (given === null) return {};
  if (typeof given !== 'object' || Array.isArray(given))
    throw invalid(`${field} must be an object with http_proxy, https_proxy and no_proxy (each a string or null)`);
  const out: ProxySettings = { ...(base ?? {}) };
  for (const k of Object.keys(given as object))
    if (!(KEYS as readonly string[]).includes(k))
      throw invalid(`${field}.${k.slice(0, 40)} is not a proxy setting (http_proxy, https_proxy, no_proxy)`);
  for (const k of KEYS) {
    const v = (given as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (v === null || v === '') {
      out[k] = null;
      continue;
    }
    if (typeof v !== 'string' || v.length > (k === 'no_proxy' ? 4096 : 2048))
      throw invalid(`${field}.${k} must be a string of at most ${k === 'no_proxy' ? 4096 : 2048} characters, or null`);
    // A view shows a stored password as ********; the same URL sent back (a form saved unchanged) keeps the password.
    const stored = base?.[k];
    if (k !== 'no_proxy' && stored && v.includes(MASK) && maskProxyPassword(stored) === v) {
      out[k] = stored;
      continue;
    }
    const problem = k === 'no_proxy' ? noProxyProblem(v) : proxyUrlProblem(v);
    if (problem) throw invalid(`${field}.${k} ${problem}`);
    out[k] = v;
  }
  return out;
}

/** True when the settings send anything through a proxy. */
export function usesProxy(p: ProxySettings | undefined): boolean {
  return !!(p?.http_proxy || p?.https_proxy);
}

/**
 * The proxy an outbound connection uses: `own` (an organization's or a mirror's setting) when it names a proxy, else
 * `fromEnvironment` (HTTP_PROXY, HTTPS_PROXY and NO_PROXY of the process, config.outboundProxy), else none.
 */
export function effectiveProxy(own: ProxySettings | undefined, fromEnvironment: ProxySettings | undefined): ProxySettings | undefined {
  return usesProxy(own) ? own : fromEnvironment;
}
