// POST/DELETE /api/v1/organization/{org}/team/{team}/syncing (Quay's paths and body: {"group_dn": …} for LDAP,
// {"group_name": …} for an OpenID provider's group claim) and the sync fields of the team members listing.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccountServices } from '../../services/accounts/index.js';
import { ApiError } from './errors.js';
import { sendJson } from './principal.js';

/** Quay's `can_edit`, `can_sync` and `synced` of GET …/team/{team}/members. */
export async function teamSyncView(accounts: AccountServices, org: string, team: string, isAdmin: boolean): Promise<Record<string, unknown>> {
  const ts = accounts.identity.teamSync;
  const st = await ts.stateOf(org, team);
  return {
    can_edit: isAdmin && !st,
    ...(isAdmin && ts.canSync() ? { can_sync: ts.canSync() } : {}),
    ...(st ? { synced: { service: st.service, config: st.config, last_updated: st.last_updated === null ? null : new Date(st.last_updated).toUTCString(), ...(st.last_error ? { last_error: st.last_error } : {}) } } : {}),
  };
}

export async function teamSyncRoutes(app: FastifyInstance, opts: { accounts: AccountServices; orgAdmin: (req: FastifyRequest) => Promise<string> }): Promise<void> {
  const { accounts, orgAdmin } = opts;
  const ts = accounts.identity.teamSync;
  const mayLink = async (req: FastifyRequest): Promise<string> => {
    const org = await orgAdmin(req);
    if (!accounts.perms.isSuper(req.principal!) && !accounts.identity.settings.orgAdminsMayLink) {
      throw new ApiError(403, 'only a superuser can link teams to groups (FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP is off)');
    }
    return org;
  };
  app.post('/organization/:org/team/:team/syncing', async (req, reply) => {
    const org = await mayLink(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'send a JSON object such as {"group_dn": "cn=developers,ou=groups"}');
    const st = await ts.link(org, (req.params as { team: string }).team, body);
    req.log.info({ event: 'team_sync_linked', org, team: (req.params as { team: string }).team, service: st.service }, 'team linked to a group');
    return sendJson(reply, 200, { service: st.service, config: st.config, last_updated: st.last_updated === null ? null : new Date(st.last_updated).toUTCString() });
  });
  app.delete('/organization/:org/team/:team/syncing', async (req, reply) => {
    const org = await mayLink(req);
    await ts.unlink(org, (req.params as { team: string }).team);
    return reply.code(204).send();
  });
}
