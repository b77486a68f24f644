// The process's outbound proxy environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, as curl, Python requests and so Quay and
// Harbor read them): the default proxy of the proxy cache and the repository mirror, used when an organization or a
// mirror has no proxy setting of its own (docs/PROXY-CACHE.md, docs/MIRRORING.md). The lower-case name wins over the
// upper-case one when both are set; an empty value is unset; a value without a scheme ("proxy.example:3128") means
// http://, as curl and requests read it. A malformed value is a configuration problem naming the variable, never its
// value (it may hold a password).
import { noProxyProblem, proxyUrlProblem, type ProxySettings } from '../upstream/proxy.js';

const VARIABLES = [
  ['http_proxy', 'HTTP_PROXY'],
  ['https_proxy', 'HTTPS_PROXY'],
  ['no_proxy', 'NO_PROXY'],
] as const;

/** The proxy settings the environment gives (undefined when it names no proxy), and the problems of its values. */
export function environmentProxy(env: NodeJS.ProcessEnv): { settings?: ProxySettings; problems: string[] } {
  const settings: ProxySettings = {};
  const problems: string[] = [];
  for (const [lower, upper] of VARIABLES) {
    const name = env[lower] ? lower : env[upper] ? upper : undefined;
    if (!name) continue;
    let value = env[name]!.trim();
    if (lower !== 'no_proxy' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) value = `http://${value}`;
    const problem = lower === 'no_proxy' ? noProxyProblem(value) : proxyUrlProblem(value);
    if (problem) problems.push(`${name} (environment): ${problem}`);
    else settings[lower] = value;
  }
  if (problems.length || !(settings.http_proxy || settings.https_proxy)) return { problems };
  return { settings, problems };
}
