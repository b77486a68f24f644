// Quay's log kinds (LogEntryKind in Quay's initdb.py) that Berth records, and what each means here.
// docs/AUDIT.md lists them; the API accepts only these names in its `kind` filter.
export const LOG_KINDS = {
  push_repo: 'a manifest pushed (by tag or digest) over /v2',
  pull_repo: 'a manifest pulled (GET by tag or digest) over /v2',
  create_repo: 'a repository created (API, or by the first push)',
  delete_repo: 'a repository deleted',
  set_repo_description: 'a repository description changed',
  change_repo_visibility: 'a repository made public or private',
  change_repo_permission: 'a user, robot or team given a role on a repository',
  delete_repo_permission: 'a user, robot or team removed from a repository',
  create_tag: 'a tag created through the API',
  move_tag: 'a tag pointed at another manifest through the API',
  delete_tag: 'a tag deleted (API, or DELETE of a manifest over /v2)',
  revert_tag: 'a tag restored from its history (time machine)',
  create_robot: 'a robot account created',
  delete_robot: 'a robot account deleted',
  regenerate_robot_token: 'a robot token regenerated',
  org_create: 'an organization created',
  org_delete: 'an organization deleted',
  org_create_team: 'a team created or its role set',
  org_delete_team: 'a team deleted',
  org_add_team_member: 'a member added to a team',
  org_remove_team_member: 'a member removed from a team',
  user_create: 'a user created (by a superuser or the first-run setup)',
  user_delete: 'a user deleted by a superuser',
  create_app_specific_token: 'an app-specific token created',
  revoke_app_specific_token: 'an app-specific token revoked',
  login_success: 'a sign-in (web UI with a password or OpenID Connect, or docker/podman/skopeo/helm login at /v2/auth)',
  login_failure: 'a refused sign-in (wrong credentials, throttled)',
  logout_success: 'a web UI sign-out',
  enable_team_sync: 'a team linked to a directory group (LDAP group DN or OIDC group claim)',
  disable_team_sync: 'a team unlinked from its directory group',
  add_repo_notification: 'a repository notification created',
  delete_repo_notification: 'a repository notification deleted',
  reset_repo_notification: 'a disabled repository notification re-enabled (failures reset)',
  create_proxy_cache_config: 'an organization configured as a proxy cache of an upstream registry',
  delete_proxy_cache_config: "an organization's proxy cache configuration removed",
} as const;

export type LogKind = keyof typeof LOG_KINDS;

export function isLogKind(k: string): k is LogKind {
  return Object.hasOwn(LOG_KINDS, k);
}
