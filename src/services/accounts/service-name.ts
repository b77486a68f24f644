// The token service name and realm a request is told about. With SERVER_HOSTNAME set they are fixed; without it
// they follow the name the client used to reach Berth (its Host header, or X-Forwarded-Host/-Proto from a
// TRUSTED_PROXIES peer), so a client that follows the challenge comes back to the same address and port.
import type { AuthSettings } from '../../config/auth.js';
import type { RequestOrigin } from '../index.js';

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export interface TokenNames {
  /** The token service (and JWT audience). */
  service: string;
  /** Where clients fetch tokens. */
  realm: string;
}

export function tokenNames(auth: AuthSettings, origin: RequestOrigin | undefined): TokenNames {
  if (!auth.serviceFromRequest || !origin || !HOST_RE.test(origin.host)) return { service: auth.service, realm: auth.realm };
  return { service: origin.host, realm: `${origin.scheme}://${origin.host}/v2/auth` };
}

/** The audiences a registry token presented on this request may carry (and the service names the token endpoint issues for). */
export function acceptedAudiences(auth: AuthSettings, origin: RequestOrigin | undefined): string[] {
  const { service } = tokenNames(auth, origin);
  return service === auth.service ? [service] : [service, auth.service];
}
