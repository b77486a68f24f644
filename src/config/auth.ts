// Accounts, token and TLS settings derived from the validated config.
import path from 'node:path';
import type { BerthConfig } from './load.js';

export interface AuthSettings {
  open: boolean;
  superUsers: Set<string>;
  anonymousAccess: boolean;
  privateOnPush: boolean;
  appTokens: boolean;
  userCreation: boolean;
  pbkdf2Iterations: number;
  tokenSeconds: number;
  signingAlgorithm: 'ES256' | 'RS256';
  keyRotationMs: number;
  sessionSeconds: number;
  loginFailureLimit: number;
  loginBackoffMs: number;
  /** The token service name and JWT audience (SERVER_HOSTNAME, else derived from the listen address). */
  service: string;
  /** SERVER_HOSTNAME unset: the service and realm a request is told follow its Host (src/http/auth/service-name.ts). */
  serviceFromRequest: boolean;
  /** The realm clients fetch tokens from. */
  realm: string;
  /** External base URL, e.g. https://registry.example.com */
  baseUrl: string;
  tls?: { certFile: string; keyFile: string; httpListen?: string };
}

export function authSettings(config: BerthConfig): AuthSettings {
  const r = config.raw;
  const baseUrl = `${config.urlScheme}://${config.serverHostname}`;
  const tls =
    r.TLS_CERT_FILE && r.TLS_KEY_FILE
      ? { certFile: path.resolve(r.TLS_CERT_FILE), keyFile: path.resolve(r.TLS_KEY_FILE), httpListen: r.HTTP_LISTEN }
      : undefined;
  return {
    open: r.AUTHENTICATION_TYPE === 'None',
    superUsers: new Set(r.SUPER_USERS),
    anonymousAccess: r.FEATURE_ANONYMOUS_ACCESS,
    privateOnPush: r.CREATE_PRIVATE_REPO_ON_PUSH,
    appTokens: r.FEATURE_APP_SPECIFIC_TOKENS,
    userCreation: r.FEATURE_USER_CREATION,
    pbkdf2Iterations: r.PBKDF2_ITERATIONS,
    tokenSeconds: r.TOKEN_EXPIRATION_SECONDS,
    signingAlgorithm: r.TOKEN_SIGNING_ALGORITHM,
    keyRotationMs: r.TOKEN_KEY_ROTATION_DAYS * 86_400_000,
    sessionSeconds: r.SESSION_EXPIRATION_SECONDS,
    loginFailureLimit: r.LOGIN_FAILURE_LIMIT,
    loginBackoffMs: r.LOGIN_BACKOFF_SECONDS * 1000,
    service: config.serverHostname,
    serviceFromRequest: !config.serverHostnameSet,
    realm: `${baseUrl}/v2/auth`,
    baseUrl,
    tls,
  };
}
