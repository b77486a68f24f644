// Table shapes of migration 0002_accounts.
import type { Generated } from 'kysely';

export type AccountKind = 'user' | 'org' | 'robot';
export type RepoRole = 'read' | 'write' | 'admin';
export type TeamRole = 'member' | 'creator' | 'admin';

export interface AccountTable {
  id: Generated<number>;
  name: string;
  kind: AccountKind;
  email: string | null;
  /** Users: PBKDF2-HMAC-SHA256 hash (see crypto). */
  password_hash: string | null;
  /** Robots: SHA-256 digest of the token. */
  token_digest: string | null;
  /** Robots: the owning user or organization. */
  owner_id: number | null;
  superuser: Generated<number>;
  enabled: Generated<number>;
  created_at: number;
}
export interface TeamTable {
  id: Generated<number>;
  org_id: number;
  name: string;
  role: TeamRole;
  description: string | null;
  created_at: number;
}
export interface TeamMemberTable {
  team_id: number;
  account_id: number;
}
export interface RepositoryUserPermissionTable {
  repository_id: number;
  account_id: number;
  role: RepoRole;
}
export interface RepositoryTeamPermissionTable {
  repository_id: number;
  team_id: number;
  role: RepoRole;
}
export interface AppTokenTable {
  id: Generated<number>;
  account_id: number;
  title: string;
  token_digest: string;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
}
export interface SessionTable {
  digest: string;
  account_id: number;
  csrf: string;
  created_at: number;
  expires_at: number;
}
export interface SigningKeyTable {
  kid: string;
  alg: string;
  private_pem: string;
  public_pem: string;
  created_at: number;
  retired_at: number | null;
}
/** Migration 0006_login_throttle: failed logins per `a:<account>` / `i:<address>` key, shared by replicas. */
export interface LoginThrottleTable {
  key: string;
  failures: number;
  blocked_until: number;
  last_failure_at: number;
}

/** Migration 0012_identity: external identities, synced teams, OIDC sign-ins in flight. */
export interface AccountIdentityTable {
  provider: string;
  subject: string;
  account_id: number;
  restricted: Generated<number>;
  created_at: number;
  last_login_at: number | null;
}
export interface TeamSyncTable {
  team_id: number;
  service: string;
  config: string;
  last_updated: number | null;
  last_error: string | null;
  created_at: number;
}
export interface OidcLoginTable {
  id: Generated<number>;
  state_digest: string;
  provider: string;
  nonce: string;
  code_verifier: string;
  created_at: number;
  expires_at: number;
}

export interface AccountsTables {
  account_identity: AccountIdentityTable;
  team_sync: TeamSyncTable;
  oidc_login: OidcLoginTable;
  account: AccountTable;
  team: TeamTable;
  team_member: TeamMemberTable;
  repository_user_permission: RepositoryUserPermissionTable;
  repository_team_permission: RepositoryTeamPermissionTable;
  app_token: AppTokenTable;
  session: SessionTable;
  signing_key: SigningKeyTable;
  login_throttle: LoginThrottleTable;
}
