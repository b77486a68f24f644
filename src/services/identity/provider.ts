// The one small interface every identity provider implements (database, LDAP, OIDC), and what they return.

/** A user as an external provider describes them. */
export interface ExternalUser {
  /** Stable id at the provider: the LDAP uid attribute's value, the OIDC `sub`. */
  subject: string;
  /** The name the user signs in with there (the local username is derived from it). */
  username: string;
  email: string | null;
  /** LDAP_SUPERUSER_FILTER matched (undefined: the provider does not say). */
  superuser?: boolean;
  /** LDAP_RESTRICTED_USER_FILTER matched. */
  restricted?: boolean;
  /** OIDC: the groups of PREFERRED_GROUP_CLAIM_NAME. */
  groups?: string[];
}

export interface IdentityProvider {
  /** 'database', 'ldap' or 'oidc:<id>': also the `provider` of account_identity rows and the team_sync service. */
  readonly id: string;
  /** Checks a username and password: the user, or undefined when wrong or unknown. Throws AccountError `unavailable`. */
  checkPassword?(username: string, password: string): Promise<ExternalUser | undefined>;
  /** The user as the provider sees them now: undefined when removed or no longer allowed (user filter). */
  lookup?(subject: string): Promise<ExternalUser | undefined>;
  /** Team sync: the members of a group (LDAP: a DN relative to the base DN); AccountError `invalid` when there is no such group. */
  groupMembers?(group: string): Promise<ExternalUser[]>;
  close?(): Promise<void>;
}

/** A local username for an external name: lowercase, runs of other characters become "_" (Quay does the same). */
export function localUsername(external: string): string {
  let n = external
    .toLowerCase()
    .replace(/@.*$/, '')
    .replace(/[^a-z0-9._-]+/g, '_')
    .replace(/^[._-]+|[._-]+$/g, '');
  n = n.replace(/[._-]{2,}/g, (m) => (m === '__' ? m : m[0]));
  if (n.length < 2) n = `user_${n || 'x'}`;
  return n.slice(0, 255);
}
