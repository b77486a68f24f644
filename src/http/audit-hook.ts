// The edge of the audit log: one onResponse hook turns successful (and, for sign-ins, refused) requests
// into audit entries with the caller, the client address (req.ip: TRUSTED_PROXIES decides whether a
// forwarded address is believed) and Quay's metadata. Handlers that know more than the route tells
// (a tag created or moved) add entries to req.auditEvents. The caller is req.principal (resolved once
// per request by the principal hooks of /v2, /v2/auth and /api/v1).
// A pull over /v2 costs one small object here (AuditLog.recordPull); the database write is batched (AuditLog).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseAuthorization } from './auth/credentials.js';
import { requestOrigin } from './origin.js';
import type { RequestOrigin } from '../services/index.js';
import type { AuditEntry, AuditLog, Performer } from '../services/audit/log.js';
import { performerNamed, performerOf, pullMetadata } from '../services/audit/log.js';
import type { LogKind } from '../services/audit/kinds.js';

/** An entry a handler adds; the hook fills in performer and address when the response succeeds. */
export type PendingAudit = Omit<AuditEntry, 'performer' | 'ip'> & { performer?: Performer };

declare module 'fastify' {
  interface FastifyRequest {
    auditEvents?: PendingAudit[];
  }
}

/** Adds an entry to be recorded if the request succeeds. */
export function auditLater(req: FastifyRequest, e: PendingAudit): void {
  req.auditEvents ??= [];
  req.auditEvents.push(e);
}

type Body = Record<string, unknown> | undefined;
type P = Record<string, string>;
interface RuleCtx {
  req: FastifyRequest;
  params: P;
  body: Body;
  self?: string;
}
type Rule = (c: RuleCtx) => PendingAudit | undefined;

const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 255) : undefined);
const ns = (namespace: string | undefined, kind: LogKind, metadata: Record<string, unknown> = {}): PendingAudit => ({
  kind,
  namespace,
  metadata,
});

/** Successful /api/v1 changes by route pattern (the repository wildcard is parsed below). */
const API_RULES: Record<string, Rule> = {
  'POST /api/v1/organization/': ({ body }) =>
    ns(str(body?.name), 'org_create', { email: str(body?.email) ?? null, namespace: str(body?.name) }),
  'DELETE /api/v1/organization/:org': ({ params }) => ns(params.org, 'org_delete', { namespace: params.org }),
  'PUT /api/v1/organization/:org/robots/:short': ({ params }) => ns(params.org, 'create_robot', { robot: `${params.org}+${params.short}` }),
  'POST /api/v1/organization/:org/robots/:short/regenerate': ({ params }) =>
    ns(params.org, 'regenerate_robot_token', { robot: `${params.org}+${params.short}` }),
  'DELETE /api/v1/organization/:org/robots/:short': ({ params }) =>
    ns(params.org, 'delete_robot', { robot: `${params.org}+${params.short}` }),
  'PUT /api/v1/organization/:org/team/:team': ({ params, body }) =>
    ns(params.org, 'org_create_team', { team: params.team, role: str(body?.role) ?? null }),
  'DELETE /api/v1/organization/:org/team/:team': ({ params }) => ns(params.org, 'org_delete_team', { team: params.team }),
  'POST /api/v1/organization/:org/proxycache': ({ params, body }) =>
    ns(params.org, 'create_proxy_cache_config', { upstream_registry: str(body?.upstream_registry) ?? null }),
  'DELETE /api/v1/organization/:org/proxycache': ({ params }) => ns(params.org, 'delete_proxy_cache_config'),
  'PUT /api/v1/organization/:org/team/:team/members/:member': ({ params }) =>
    ns(params.org, 'org_add_team_member', { member: params.member, team: params.team }),
  'DELETE /api/v1/organization/:org/team/:team/members/:member': ({ params }) =>
    ns(params.org, 'org_remove_team_member', { member: params.member, team: params.team }),
  'PUT /api/v1/user/robots/:short': ({ params, self }) => ns(self, 'create_robot', { robot: `${self}+${params.short}` }),
  'POST /api/v1/user/robots/:short/regenerate': ({ params, self }) =>
    ns(self, 'regenerate_robot_token', { robot: `${self}+${params.short}` }),
  'DELETE /api/v1/user/robots/:short': ({ params, self }) => ns(self, 'delete_robot', { robot: `${self}+${params.short}` }),
  'POST /api/v1/user/apptoken': ({ body, self }) =>
    ns(self, 'create_app_specific_token', { app_specific_token_title: str(body?.title) ?? null }),
  'DELETE /api/v1/user/apptoken/:uuid': ({ params, self }) => ns(self, 'revoke_app_specific_token', { app_specific_token: params.uuid }),
  'POST /api/v1/user/': ({ body }) => ns(str(body?.username), 'user_create', { username: str(body?.username) }),
  'POST /api/v1/setup': ({ body }) => ({
    ...ns(str(body?.username), 'user_create', { username: str(body?.username), first_admin: true }),
    performer: performerNamed(str(body?.username)),
  }),
  'DELETE /api/v1/superuser/users/:name': ({ params }) => ns(params.name, 'user_delete', { username: params.name }),
  'POST /api/v1/signout': ({ self }) => ns(self, 'logout_success', {}),
  'POST /api/v1/organization/:org/team/:team/syncing': ({ params, body }) =>
    ns(params.org, 'enable_team_sync', { team: params.team, group_dn: str(body?.group_dn) ?? str(body?.group_name) ?? null }),
  'DELETE /api/v1/organization/:org/team/:team/syncing': ({ params }) => ns(params.org, 'disable_team_sync', { team: params.team }),
  'POST /api/v1/repository': ({ body }) => {
    const full = `${str(body?.namespace)}/${str(body?.repository)}`;
    return {
      kind: 'create_repo',
      repository: full,
      metadata: { repo: str(body?.repository), namespace: str(body?.namespace), visibility: str(body?.visibility) ?? 'private' },
    };
  },
};

/** /api/v1/repository/<name>/… changes, by the route table's pattern (names contain "/"). */
function repositoryRule(method: string, url: string, p: P, body: Body): PendingAudit | undefined {
  const name = p.name;
  const i = name.indexOf('/');
  const repo = (kind: LogKind, metadata: Record<string, unknown> = {}): PendingAudit => ({
    kind,
    repository: name,
    metadata: { repo: name.slice(i + 1), namespace: name.slice(0, i), ...metadata },
  });
  const who = url.includes('/permissions/user/') ? { username: p.member } : { team: p.member };
  switch (`${method} ${url}`) {
    case 'POST /repository/:name/changevisibility':
      return repo('change_repo_visibility', { visibility: str(body?.visibility) });
    case 'PUT /repository/:name/permissions/user/:member':
    case 'PUT /repository/:name/permissions/team/:member':
      return repo('change_repo_permission', { ...who, role: str(body?.role) });
    case 'DELETE /repository/:name/permissions/user/:member':
    case 'DELETE /repository/:name/permissions/team/:member':
      return repo('delete_repo_permission', who);
    case 'POST /repository/:name/tag/:tag/restore':
      return repo('revert_tag', { tag: p.tag, manifest_digest: str(body?.manifest_digest) });
    case 'DELETE /repository/:name/tag/:tag':
      return repo('delete_tag', { tag: p.tag });
    case 'DELETE /repository/:name':
      return repo('delete_repo');
    case 'PUT /repository/:name':
      return repo('set_repo_description', { description: typeof body?.description === 'string' ? body.description.slice(0, 500) : null });
    default:
      return undefined; // PUT …/tag/:tag and notifications: their handlers add the entry (req.auditEvents)
  }
}

function apiEntry(req: FastifyRequest, status: number): PendingAudit | undefined {
  const url = req.routeOptions?.url;
  if (!url) return undefined;
  const body = (req.body && typeof req.body === 'object' ? req.body : undefined) as Body;
  if (url === '/api/v1/signin') {
    const username = str(body?.username);
    if (status === 200)
      return {
        kind: 'login_success',
        namespace: username,
        performer: performerNamed(username),
        metadata: { type: 'quayauth', useragent: ua(req) },
      };
    if (status === 401 || status === 403 || status === 429)
      return { kind: 'login_failure', namespace: username, metadata: { type: 'quayauth', username, useragent: ua(req), status } };
    return undefined;
  }
  if (status >= 300) return undefined;
  if (url === '/api/v1/repository/*') {
    // The pattern and parameters the /api/v1 route table matched (api/plugin.ts).
    const m = req.apiMatch;
    return m && repositoryRule(req.method, m.url, m.params, body);
  }
  const rule = API_RULES[`${req.method} ${url}`];
  const p = req.principal;
  return rule?.({ req, params: (req.params ?? {}) as P, body, self: p && p.kind !== 'anonymous' ? p.name : undefined });
}

function ua(req: FastifyRequest): string | null {
  const v = req.headers['user-agent'];
  return typeof v === 'string' ? v.slice(0, 200) : null;
}

/** push_repo / pull_repo / delete_tag over /v2, and sign-ins at /v2/auth. */
function registryEntry(req: FastifyRequest, reply: FastifyReply, status: number): PendingAudit | undefined {
  const url = req.raw.url ?? '';
  if (url.startsWith('/v2/auth')) {
    const creds = parseAuthorization(req.headers.authorization);
    if (creds.scheme !== 'basic') return undefined;
    const name = creds.username.slice(0, 255);
    if (status === 200) {
      const p = req.principal;
      const who = p && p.kind !== 'anonymous' ? p.name : name;
      return {
        kind: 'login_success',
        namespace: who.split('+')[0],
        performer: performerOf(p),
        metadata: { type: 'v2auth', useragent: ua(req), ...(name === '$app' ? { kind: 'app_specific_token' } : {}) },
      };
    }
    if (status === 401 || status === 429)
      return {
        kind: 'login_failure',
        namespace: name === '$app' ? null : name.split('+')[0],
        metadata: { type: 'v2auth', username: name, useragent: ua(req), status },
      };
    return undefined;
  }
  const m = req.registryMatch;
  if (m?.route !== 'manifest' || status >= 300 || !m.name || !m.ref) return undefined;
  const method = req.method;
  if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE') return undefined;
  const i = m.name.indexOf('/');
  const isDigest = m.ref.includes(':');
  const ref = isDigest ? { manifest_digest: m.ref } : { tag: m.ref };
  const base = { repo: i >= 0 ? m.name.slice(i + 1) : m.name, namespace: i >= 0 ? m.name.slice(0, i) : m.name, ...ref };
  if (method === 'GET') return { kind: 'pull_repo', repository: m.name, metadata: pullMetadata(m.name, m.ref, ua(req)) };
  if (method === 'PUT') {
    const h = reply.getHeader('docker-content-digest');
    const digest = typeof h === 'string' ? h : undefined;
    return {
      kind: 'push_repo',
      repository: m.name,
      metadata: { ...base, ...(digest && !isDigest ? { manifest_digest: digest } : {}), useragent: ua(req) },
    };
  }
  return { kind: 'delete_tag', repository: m.name, metadata: base };
}

export interface AuditHookOptions {
  audit: AuditLog;
  /** Called after a successful manifest push by tag (repository notifications: repo_push). */
  onPush?: (e: { repository: string; tag: string; digest?: string; performer: Performer; origin: RequestOrigin }) => void;
}

/** Installs the hook on the root app (before any route, so it sees every request). */
export function installAuditHook(app: FastifyInstance, opts: AuditHookOptions): void {
  const { audit } = opts;
  app.addHook('onResponse', (req: FastifyRequest, reply: FastifyReply, done) => {
    const status = reply.statusCode;
    try {
      // A pull (manifest GET, nothing a handler added): one small object queued, its row built at flush time.
      const m = req.registryMatch;
      if (
        m !== undefined &&
        m.route === 'manifest' &&
        req.method === 'GET' &&
        status < 300 &&
        req.auditEvents === undefined &&
        audit.enabled &&
        m.name &&
        m.ref &&
        !req.url.startsWith('/v2/auth')
      ) {
        audit.recordPull(m.name, m.ref, ua(req), req.principal, req.ip);
        return done();
      }
      const isV2 = req.url.startsWith('/v2');
      // With the log off, only a manifest PUT matters (repo_push notifications); nothing else is looked at.
      const wanted = audit.enabled || (isV2 && req.method === 'PUT' && !!opts.onPush);
      const main = wanted
        ? isV2
          ? registryEntry(req, reply, status)
          : req.url.startsWith('/api/v1/')
            ? apiEntry(req, status)
            : undefined
        : undefined;
      // Entries a handler added stand unless the request failed (an OpenID sign-in answers with a redirect).
      const extra = status < 400 ? (req.auditEvents ?? []) : [];
      if (!main && !extra.length) return done();
      const performer = performerOf(req.principal);
      for (const e of main ? [main, ...extra] : extra) {
        const entry: AuditEntry = { ...e, performer: e.performer ?? performer, ip: req.ip };
        audit.record(entry);
        if (entry.kind === 'push_repo' && opts.onPush && entry.repository && typeof e.metadata?.tag === 'string') {
          opts.onPush({
            repository: entry.repository,
            tag: e.metadata.tag,
            digest: e.metadata.manifest_digest as string | undefined,
            performer: entry.performer,
            origin: requestOrigin(req),
          });
        }
      }
    } catch (err) {
      req.log.warn({ err }, 'audit hook failed');
    }
    done();
  });
}
