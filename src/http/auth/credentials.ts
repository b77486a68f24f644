// Parsing the Authorization header (Basic and Bearer), with hard size limits. Never logs what it parses.
export const MAX_AUTHORIZATION_LENGTH = 8192;

import type { Credentials } from '../../services/principal.js';

export type { Credentials } from '../../services/principal.js';

export function parseAuthorization(header: string | string[] | undefined): Credentials {
  if (header === undefined || header === '') return { scheme: 'none' };
  if (Array.isArray(header)) return { scheme: 'malformed', reason: 'more than one Authorization header' };
  if (header.length > MAX_AUTHORIZATION_LENGTH) return { scheme: 'malformed', reason: 'Authorization header is too long' };
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  const value = sp < 0 ? '' : header.slice(sp + 1).trim();
  if (scheme === 'bearer') {
    if (!/^[A-Za-z0-9._~+/=-]+$/.test(value)) return { scheme: 'malformed', reason: 'Bearer token has invalid characters' };
    return { scheme: 'bearer', token: value };
  }
  if (scheme === 'basic') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return { scheme: 'malformed', reason: 'Basic credentials are not base64' };
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { scheme: 'malformed', reason: 'Basic credentials have no ":"' };
    return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return { scheme: 'malformed', reason: 'unsupported Authorization scheme' };
}
