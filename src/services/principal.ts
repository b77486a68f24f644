// Who is calling: resolved once per request by the HTTP edge (src/http/principal.ts), then handed to the
// services and their access checks. Nothing below the edge sees the request itself.

/** One grant of a registry token: `repository:ns/repo:pull,push` or `registry:catalog:*`. */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

/** How the caller proved who they are. */
export type Via = 'password' | 'apptoken' | 'robot' | 'session' | 'registry-token';

export interface AnonymousPrincipal {
  kind: 'anonymous';
  /** /v2 only: the grants of the registry token the caller sent (an anonymous token, or a scanner's layer token); undefined: no token. */
  scopes?: readonly AccessEntry[];
}

export interface AccountPrincipal {
  /** A user (also when acting through an app token: `via` says so) or a robot account. */
  kind: 'user' | 'robot';
  id: number;
  name: string;
  /** A superuser (the account's flag or SUPER_USERS); always false for robots. */
  superuser: boolean;
  /** The namespace that owns a robot; null for users. */
  ownerId: number | null;
  via?: Via;
  /** Signed in with an app token (via 'apptoken'): its id, carried into registry tokens so revoking it refuses them. */
  appTokenId?: number;
  /** /v2 only: the grants of the caller's registry token. */
  scopes?: readonly AccessEntry[];
}

export type Principal = AnonymousPrincipal | AccountPrincipal;

export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });

/** The credentials an Authorization header carries, parsed by the edge (never logged). */
export type Credentials =
  | { scheme: 'none' }
  | { scheme: 'basic'; username: string; password: string }
  | { scheme: 'bearer'; token: string }
  | { scheme: 'malformed'; reason: string };

/** Whether a registry token's grants allow `action` on a repository. */
export function grants(scopes: readonly AccessEntry[] | undefined, name: string, action: string): boolean {
  return (
    !!scopes && scopes.some((a) => a.type === 'repository' && a.name === name && (a.actions.includes(action) || a.actions.includes('*')))
  );
}
