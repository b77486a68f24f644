// The LDAP identity provider (ldapts): Quay's LDAP_* settings. Every operation binds as LDAP_ADMIN_DN on a fresh
// connection (ldaps://, or ldap:// upgraded with StartTLS when LDAP_START_TLS), searches below the user base with
// LDAP_USER_FILTER, and checks a password by binding as the user's own DN.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Client, Entry } from 'ldapts';

// ldapts is loaded by the first directory operation, not by every server start.
const load = createRequire(import.meta.url);
const ldapts = () => load('ldapts') as typeof import('ldapts');
import type { LdapSettings } from '../../config/schema-identity.js';
import { invalid, unavailable } from '../accounts/errors.js';
import type { ExternalUser, IdentityProvider } from './provider.js';

/** RFC 4515 escaping of a value inside a filter. */
export function escapeFilterValue(v: string): string {
  return v.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const first = (v: Entry[string] | undefined): string | undefined => {
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? undefined : Buffer.isBuffer(x) ? x.toString('utf8') : String(x);
};
const all = (v: Entry[string] | undefined): string[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));

export class LdapProvider implements IdentityProvider {
  readonly id = 'ldap';
  private readonly ca?: Buffer;

  constructor(private readonly s: LdapSettings) {
    if (s.caFile) {
      try {
        this.ca = readFileSync(s.caFile);
      } catch (e) {
        throw new Error(`LDAP_CA_FILE: cannot read ${s.caFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  }

  private tlsOptions() {
    return { minVersion: 'TLSv1.2' as const, ...(this.ca ? { ca: [this.ca] } : {}) };
  }

  private async open(dn: string, password: string): Promise<Client> {
    // ldapts speaks TLS from the start whenever tlsOptions are given: only for ldaps://.
    const ldaps = this.s.uri.startsWith('ldaps:');
    const client = new (ldapts().Client)({
      url: this.s.uri,
      timeout: this.s.timeoutMs,
      connectTimeout: this.s.connectTimeoutMs,
      strictDN: false,
      ...(ldaps ? { tlsOptions: this.tlsOptions() } : {}),
    });
    try {
      if (this.s.startTls) await client.startTLS(this.tlsOptions());
      await client.bind(dn, password);
      return client;
    } catch (e) {
      await client.unbind().catch(() => undefined);
      throw e;
    }
  }

  /** A connection bound as LDAP_ADMIN_DN, or AccountError `unavailable` saying why not. */
  private async admin(): Promise<Client> {
    try {
      return await this.open(this.s.adminDn, this.s.adminPassword);
    } catch (e) {
      throw this.unavailable(
        e,
        e instanceof ldapts().InvalidCredentialsError ? 'the directory refused LDAP_ADMIN_DN and LDAP_ADMIN_PASSWD' : undefined,
      );
    }
  }

  private unavailable(e: unknown, why?: string) {
    const detail = why ?? (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e);
    return unavailable(`the directory (${this.s.uri}) cannot be used: ${detail}`);
  }

  private userFilter(uid: string, extra?: string): string {
    return `(&(${this.s.uidAttr}=${escapeFilterValue(uid)})${this.s.userFilter ?? ''}${extra ?? ''})`;
  }

  private toUser(e: Entry, flags: { superuser?: boolean; restricted?: boolean } = {}): ExternalUser | undefined {
    const uid = first(e[this.s.uidAttr]);
    if (!uid) return undefined;
    return { subject: uid, username: uid, email: first(e[this.s.emailAttr]) ?? null, ...flags };
  }

  private async withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const c = await this.admin();
    try {
      return await fn(c);
    } catch (e) {
      if ((e as { kind?: string }).kind) throw e; // already an AccountError
      throw this.unavailable(e);
    } finally {
      await c.unbind().catch(() => undefined);
    }
  }

  /** A search in each user base (LDAP_USER_RDN, then LDAP_SECONDARY_USER_RDNS); a base that does not exist has no entries. */
  private async searchUsers(c: Client, filter: string, attributes: string[], sizeLimit?: number): Promise<Entry[]> {
    const out: Entry[] = [];
    for (const base of this.s.userBases) {
      try {
        out.push(...(await c.search(base, { scope: 'sub', filter, attributes, ...(sizeLimit ? { sizeLimit } : {}) })).searchEntries);
      } catch (e) {
        if (!(e instanceof ldapts().NoSuchObjectError)) throw e;
      }
    }
    return out;
  }

  private async findUser(c: Client, uid: string): Promise<Entry | undefined> {
    const found = await this.searchUsers(c, this.userFilter(uid), [this.s.uidAttr, this.s.emailAttr], 2);
    // Two entries for one username is a directory mistake: nobody signs in as either.
    return found.length === 1 ? found[0] : undefined;
  }

  private async matches(c: Client, uid: string, filter: string | undefined): Promise<boolean> {
    if (!filter) return false;
    return (await this.searchUsers(c, this.userFilter(uid, filter), ['1.1'], 1)).length > 0;
  }

  private async describe(c: Client, entry: Entry): Promise<ExternalUser | undefined> {
    const uid = first(entry[this.s.uidAttr]);
    if (!uid) return undefined;
    // A filter that is not configured says nothing: the flag set in Berth (berth admin, SUPER_USERS) stays.
    return this.toUser(entry, {
      ...(this.s.superuserFilter ? { superuser: await this.matches(c, uid, this.s.superuserFilter) } : {}),
      ...(this.s.restrictedFilter ? { restricted: await this.matches(c, uid, this.s.restrictedFilter) } : {}),
    });
  }

  async checkPassword(username: string, password: string): Promise<ExternalUser | undefined> {
    if (!password) return undefined; // an empty password would be an anonymous bind, which "succeeds"
    return this.withAdmin(async (c) => {
      const entry = await this.findUser(c, username);
      if (!entry) return undefined;
      try {
        const u = await this.open(entry.dn, password);
        await u.unbind().catch(() => undefined);
      } catch (e) {
        if (e instanceof ldapts().InvalidCredentialsError) return undefined;
        throw this.unavailable(e);
      }
      return this.describe(c, entry);
    });
  }

  /** Whether the user is still there and allowed (one search; the superuser and restricted flags are refreshed at sign-in). */
  async lookup(subject: string): Promise<ExternalUser | undefined> {
    return this.withAdmin(async (c) => {
      const entry = await this.findUser(c, subject);
      return entry && this.toUser(entry);
    });
  }

  /** The full DN of a group given relative to the base DN (Quay's group_dn), or already absolute. */
  groupDn(group: string): string {
    const base = this.s.baseDn.toLowerCase().replace(/\s+/g, '');
    return group.toLowerCase().replace(/\s+/g, '').endsWith(base) ? group : `${group},${this.s.baseDn}`;
  }

  /** Members of a groupOfNames / groupOfUniqueNames (member, uniqueMember DNs) or posixGroup (memberUid) that pass the user filter. */
  async groupMembers(group: string): Promise<ExternalUser[]> {
    const dn = this.groupDn(group);
    return this.withAdmin(async (c) => {
      let g: Entry | undefined;
      try {
        g = (await c.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['member', 'uniqueMember', 'memberUid'] }))
          .searchEntries[0];
      } catch (e) {
        if (e instanceof ldapts().NoSuchObjectError) throw invalid(`group "${dn}" does not exist in the directory`);
        throw e;
      }
      if (!g) throw invalid(`group "${dn}" does not exist in the directory`);
      const out = new Map<string, ExternalUser>();
      const filter = `(&(${this.s.uidAttr}=*)${this.s.userFilter ?? ''})`;
      for (const memberDn of [...all(g.member), ...all(g.uniqueMember)]) {
        try {
          const r = await c.search(memberDn, { scope: 'base', filter, attributes: [this.s.uidAttr, this.s.emailAttr] });
          const u = r.searchEntries[0] && this.toUser(r.searchEntries[0]);
          if (u) out.set(u.subject, u);
        } catch (e) {
          if (!(e instanceof ldapts().NoSuchObjectError)) throw e; // a member DN that no longer exists is no member
        }
      }
      const uids = all(g.memberUid);
      for (let i = 0; i < uids.length; i += 50) {
        const any = uids
          .slice(i, i + 50)
          .map((u) => `(${this.s.uidAttr}=${escapeFilterValue(u)})`)
          .join('');
        for (const e of await this.searchUsers(c, `(&(|${any})${this.s.userFilter ?? ''})`, [this.s.uidAttr, this.s.emailAttr])) {
          const u = this.toUser(e);
          if (u) out.set(u.subject, u);
        }
      }
      return [...out.values()];
    });
  }
}
