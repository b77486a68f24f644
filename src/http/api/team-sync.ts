// POST/DELETE /api/v1/organization/{org}/team/{team}/syncing (Quay's paths and body: {"group_dn": …} for LDAP,
// {"group_name": …} for an OpenID provider's group claim) and the sync fields of the team members listing.
import type { AccountServices } from '../../services/accounts/index.js';
import type { Principal } from '../../services/principal.js';
import { ApiError } from './errors.js';
import { deny, sendJson } from './principal.js';
import type { ApiCall, ApiHandler } from './types.js';

/** Quay's `can_edit`, `can_sync` and `synced` of GET …/team/{team}/members. */
export async function teamSyncView(
  accounts: AccountServices,
  org: string,
  team: string,
  principal: Principal,
): Promise<Record<string, unknown>> {
  const ts = accounts.identity.teamSync;
  const isAdmin = await accounts.perms.isNamespaceAdmin(principal, org);
  const st = await ts.stateOf(org, team);
  const canSync = ts.canSync();
  return {
    can_edit: isAdmin && !st,
    ...(isAdmin && canSync ? { can_sync: canSync } : {}),
    ...(st
      ? {
          synced: {
            service: st.service,
            config: st.config,
            last_updated: st.last_updated === null ? null : new Date(st.last_updated).toUTCString(),
            ...(st.last_error ? { last_error: st.last_error } : {}),
          },
        }
      : {}),
  };
}

/** An org admin who may link teams: superusers, and org admins with FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP. */
async function mayLink({ params, principal, deps: { accounts } }: ApiCall): Promise<string> {
  const { org } = params;
  await accounts.orgs.get(org);
  if (!(await accounts.perms.isNamespaceAdmin(principal, org)))
    throw deny(principal, `you are not an administrator of organization "${org}"`);
  if (!accounts.perms.isSuper(principal) && !accounts.identity.settings.orgAdminsMayLink) {
    throw new ApiError(403, 'only a superuser can link teams to groups (FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP is off)');
  }
  return org;
}

export const linkTeam: ApiHandler = async (c) => {
  const org = await mayLink(c);
  const body = (c.req.body ?? {}) as Record<string, unknown>;
  if (typeof body !== 'object' || Array.isArray(body))
    throw new ApiError(400, 'send a JSON object such as {"group_dn": "cn=developers,ou=groups"}');
  const st = await c.deps.accounts.identity.teamSync.link(org, c.params.team, body);
  c.req.log.info({ event: 'team_sync_linked', org, team: c.params.team, service: st.service }, 'team linked to a group');
  return sendJson(c.reply, 200, {
    service: st.service,
    config: st.config,
    last_updated: st.last_updated === null ? null : new Date(st.last_updated).toUTCString(),
  });
};

export const unlinkTeam: ApiHandler = async (c) => {
  const org = await mayLink(c);
  await c.deps.accounts.identity.teamSync.unlink(org, c.params.team);
  return c.reply.code(204).send();
};
