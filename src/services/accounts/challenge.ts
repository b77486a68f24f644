// The WWW-Authenticate challenge of /v2 (Docker's token flow) and the OCI 401 error that carries it.
import { RegistryError } from '../../oci/errors.js';
import type { TokenNames } from './service-name.js';

export function bearerChallenge(auth: TokenNames, scope?: string, error?: string): string {
  let v = `Bearer realm="${auth.realm}",service="${auth.service}"`;
  if (scope) v += `,scope="${scope}"`;
  if (error) v += `,error="${error}"`;
  return v;
}

export function unauthorized(auth: TokenNames, message: string, scope?: string, error?: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', message, undefined, 401, { 'WWW-Authenticate': bearerChallenge(auth, scope, error) });
}
