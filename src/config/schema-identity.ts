// Config keys of directory sign-in (LDAP), OpenID Connect sign-in and team sync: Quay's names where Quay has the key.
import { z } from 'zod';
import { durationSeconds } from './schema-tags.js';

const dnList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const filter = z
  .string()
  .regex(/^\(.*\)$/s, 'must be an LDAP filter in parentheses, for example (memberOf=cn=staff,ou=groups,dc=example,dc=com)');

export const identityConfigSchema = {
  /** Quay: the directory server, ldap://host:389 or ldaps://host:636. */
  LDAP_URI: z
    .string()
    .regex(/^ldaps?:\/\/[^\s/]+\/?$/, 'must be ldap://HOST[:PORT] or ldaps://HOST[:PORT]')
    .optional(),
  /** Quay: the DN Berth binds as to search the directory, and its password. */
  LDAP_ADMIN_DN: z.string().min(1).optional(),
  LDAP_ADMIN_PASSWD: z.string().min(1).optional(),
  /** Quay: the base DN (a string or Quay's list of RDNs, e.g. [dc=example, dc=com]). */
  LDAP_BASE_DN: dnList.optional(),
  /** Quay: where users live, relative to the base DN (a string or list of RDNs, e.g. [ou=people]). */
  LDAP_USER_RDN: dnList.optional(),
  /** Quay: more places users live, each relative to the base DN (searched after LDAP_USER_RDN). */
  LDAP_SECONDARY_USER_RDNS: z.array(z.string().min(1)).optional(),
  /** Quay: the attribute holding the username. */
  LDAP_UID_ATTR: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'must be an attribute name')
    .default('uid'),
  /** Quay: the attribute holding the e-mail address. */
  LDAP_EMAIL_ATTR: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]*$/, 'must be an attribute name')
    .default('mail'),
  /** Quay: only users matching this filter may sign in (a user who stops matching loses access). */
  LDAP_USER_FILTER: filter.optional(),
  /** Quay: directory users matching this filter are superusers (re-checked at every sign-in). */
  LDAP_SUPERUSER_FILTER: filter.optional(),
  /** Quay: directory users matching this filter are restricted (no organizations, no repositories in their own namespace). */
  LDAP_RESTRICTED_USER_FILTER: filter.optional(),
  /** Quay: seconds an LDAP operation may take, and seconds to connect. */
  LDAP_TIMEOUT: z.number().positive().max(600).default(10),
  LDAP_NETWORK_TIMEOUT: z.number().positive().max(600).default(10),
  /**
   * Berth: PEM CA certificate(s) the directory's TLS certificate must chain to (ldaps:// and StartTLS).
   * Quay reads the same file from extra_ca_certs/ldap.crt of its config bundle. Without it the system roots are used.
   */
  LDAP_CA_FILE: z.string().min(1).optional(),
  /** Berth: upgrade an ldap:// connection with StartTLS before anything is sent (refused if the server cannot). */
  LDAP_START_TLS: z.boolean().default(false),
  /** Quay: teams may be linked to a directory group (LDAP) or a group claim (OIDC) and follow its membership. */
  FEATURE_TEAM_SYNCING: z.boolean().default(false),
  /** Quay: a synced team older than this is synced again (by the scheduler, and for the user at sign-in). */
  TEAM_RESYNC_STALE_TIME: z
    .string()
    .regex(/^\s*\d+[smhdw]\s*$/, 'must be a duration such as 30m, 1h or 60s')
    .default('30m'),
  /** Quay: organization admins (not only superusers) may link their teams to groups. */
  FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP: z.boolean().default(false),
};

/** One `<NAME>_LOGIN_CONFIG` block with OIDC_SERVER (Quay's OIDC provider settings). */
export const oidcBlockSchema = z
  .object({
    OIDC_SERVER: z.string().regex(/^https?:\/\/\S+$/, 'must be the provider URL (the issuer), e.g. https://sso.example.com/realms/acme/'),
    CLIENT_ID: z.string().min(1),
    CLIENT_SECRET: z.string().min(1),
    SERVICE_NAME: z.string().min(1).max(100).optional(),
    LOGIN_SCOPES: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be one scope')).default(['openid']),
    PREFERRED_GROUP_CLAIM_NAME: z.string().min(1).optional(),
    /** Quay: the claim that names the user (default preferred_username, else the sub). */
    PREFERRED_USERNAME_CLAIM_NAME: z.string().min(1).optional(),
    /** Quay: the claim with the verified e-mail address (default email). */
    VERIFIED_EMAIL_CLAIM_NAME: z.string().min(1).optional(),
    /** Berth: the ID token's signing algorithm (FIPS-approved ones only). */
    ID_TOKEN_SIGNING_ALGORITHM: z.enum(['RS256', 'ES256', 'PS256']).default('RS256'),
    /** Quay: allow a plain-http OIDC_SERVER (development only; loopback addresses always may). */
    DEBUGGING: z.boolean().default(false),
  })
  .loose();

export type OidcBlock = z.infer<typeof oidcBlockSchema>;

export interface LdapSettings {
  uri: string;
  adminDn: string;
  adminPassword: string;
  baseDn: string;
  /** LDAP_USER_RDN, then each of LDAP_SECONDARY_USER_RDNS, under the base DN. */
  userBases: string[];
  uidAttr: string;
  emailAttr: string;
  userFilter?: string;
  superuserFilter?: string;
  restrictedFilter?: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  caFile?: string;
  startTls: boolean;
}

export interface OidcSettings extends OidcBlock {
  /** The lower-cased prefix of the block's key (OIDC_LOGIN_CONFIG -> oidc): the callback is /oauth2/<id>/callback. */
  id: string;
  key: string;
  serviceName: string;
}

export interface IdentitySettings {
  type: 'Database' | 'LDAP' | 'None';
  ldap?: LdapSettings;
  oidc: OidcSettings[];
  teamSync: boolean;
  /** FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP */
  orgAdminsMayLink: boolean;
  resyncStaleMs: number;
}

const joinDn = (v: string | string[] | undefined): string => (v === undefined ? '' : Array.isArray(v) ? v.join(',') : v);

/** Quay's non-OIDC login blocks, which Berth does not read. */
const NOT_OIDC = new Set([
  'GITHUB_LOGIN_CONFIG',
  'GITHUB_TRIGGER_CONFIG',
  'GOOGLE_LOGIN_CONFIG',
  'GITLAB_TRIGGER_CONFIG',
  'BITBUCKET_TRIGGER_CONFIG',
]);

function oidcBlocks(doc: Record<string, unknown>): { key: string; value: unknown }[] {
  return Object.keys(doc)
    .filter((k) => k.endsWith('_LOGIN_CONFIG') && !NOT_OIDC.has(k))
    .map((key) => ({ key, value: doc[key] }));
}

/** Problems that the per-key schema cannot see: LDAP keys needed together, OIDC blocks. */
export function identityConfigProblems(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (doc.AUTHENTICATION_TYPE === 'LDAP') {
    for (const k of ['LDAP_URI', 'LDAP_ADMIN_DN', 'LDAP_ADMIN_PASSWD', 'LDAP_BASE_DN']) {
      if (doc[k] === undefined) problems.push(`${k}: required when AUTHENTICATION_TYPE is LDAP`);
    }
    if (doc.LDAP_START_TLS === true && typeof doc.LDAP_URI === 'string' && doc.LDAP_URI.startsWith('ldaps:')) {
      problems.push('LDAP_START_TLS: use it with an ldap:// URI (ldaps:// is TLS from the start)');
    }
  }
  const ids = new Map<string, string>();
  for (const { key, value } of oidcBlocks(doc)) {
    const r = oidcBlockSchema.safeParse(value);
    if (!r.success) {
      for (const i of r.error.issues)
        problems.push(
          `${key}${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined ? 'required' : i.message}`,
        );
      continue;
    }
    if (!r.data.LOGIN_SCOPES.includes('openid')) problems.push(`${key}.LOGIN_SCOPES: must include openid`);
    const id = key.slice(0, -'_LOGIN_CONFIG'.length).toLowerCase();
    if (!/^[a-z0-9_]+$/.test(id)) problems.push(`${key}: the name before _LOGIN_CONFIG must be letters, digits and _`);
    if (ids.has(id)) problems.push(`${key}: same provider id as ${ids.get(id)}`);
    ids.set(id, key);
    const u = new URL(r.data.OIDC_SERVER);
    if (u.protocol === 'http:' && !r.data.DEBUGGING && !isLoopback(u.hostname)) {
      problems.push(`${key}.OIDC_SERVER: must be https (plain http only for a loopback address or with DEBUGGING: true)`);
    }
  }
  return problems;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The identity settings of a validated config (identityConfigProblems returned nothing). */
export function identitySettings(raw: Record<string, unknown> & { AUTHENTICATION_TYPE: string }): IdentitySettings {
  const r = raw as Record<string, any>;
  let ldap: LdapSettings | undefined;
  if (r.AUTHENTICATION_TYPE === 'LDAP') {
    const baseDn = joinDn(r.LDAP_BASE_DN);
    const rdn = joinDn(r.LDAP_USER_RDN);
    ldap = {
      uri: r.LDAP_URI,
      adminDn: r.LDAP_ADMIN_DN,
      adminPassword: r.LDAP_ADMIN_PASSWD,
      baseDn,
      userBases: [rdn ? `${rdn},${baseDn}` : baseDn, ...((r.LDAP_SECONDARY_USER_RDNS ?? []) as string[]).map((x) => `${x},${baseDn}`)],
      uidAttr: r.LDAP_UID_ATTR ?? 'uid',
      emailAttr: r.LDAP_EMAIL_ATTR ?? 'mail',
      userFilter: r.LDAP_USER_FILTER,
      superuserFilter: r.LDAP_SUPERUSER_FILTER,
      restrictedFilter: r.LDAP_RESTRICTED_USER_FILTER,
      timeoutMs: (r.LDAP_TIMEOUT ?? 10) * 1000,
      connectTimeoutMs: (r.LDAP_NETWORK_TIMEOUT ?? 10) * 1000,
      caFile: r.LDAP_CA_FILE,
      startTls: r.LDAP_START_TLS === true,
    };
  }
  const oidc = oidcBlocks(r).map(({ key, value }) => {
    const b = oidcBlockSchema.parse(value);
    const id = key.slice(0, -'_LOGIN_CONFIG'.length).toLowerCase();
    return { ...b, id, key, serviceName: b.SERVICE_NAME ?? id };
  });
  return {
    type: r.AUTHENTICATION_TYPE,
    ldap,
    oidc,
    teamSync: r.FEATURE_TEAM_SYNCING === true,
    orgAdminsMayLink: r.FEATURE_NONSUPERUSER_TEAM_SYNCING_SETUP === true,
    resyncStaleMs: durationSeconds(r.TEAM_RESYNC_STALE_TIME ?? '30m') * 1000,
  };
}
