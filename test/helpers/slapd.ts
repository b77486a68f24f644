// A real OpenLDAP server (Debian's slapd) for a test: its own slapd.conf (mdb backend, schemas core, cosine,
// inetorgperson and nis), its own data directory, loopback ports (ldap:// with StartTLS and ldaps://, with a
// certificate from Berth's own CA code), seeded with ldapadd, stopped and removed at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initCertificates } from '../../src/startup/certs.ts';
import { freePort } from './server.ts';
import { run, runOk } from './exec.ts';

export const SLAPD = '/usr/sbin/slapd';
export const haveSlapd = existsSync(SLAPD) && existsSync('/usr/bin/ldapadd') && existsSync('/etc/ldap/schema/nis.schema');
export const BASE_DN = 'dc=example,dc=com';
export const ADMIN_DN = `cn=admin,${BASE_DN}`;
export const ADMIN_PASSWORD = 'directory-admin-pw';

export interface Slapd {
  url: string;
  ldapsUrl: string;
  caFile: string;
  dir: string;
  /** ldapadd / ldapmodify / ldapdelete as the directory's root DN. */
  add(ldif: string): Promise<void>;
  modify(ldif: string): Promise<void>;
  remove(dn: string): Promise<void>;
  stop(): Promise<void>;
  /** Starts again on the same ports and data (after stop()). */
  start(): Promise<void>;
}

async function waitForPort(port: number, proc: ChildProcess, out: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`slapd exited ${proc.exitCode}: ${out()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`slapd did not listen on ${port}: ${out()}`);
}

export async function startSlapd(): Promise<Slapd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-slapd-'));
  const data = path.join(dir, 'data');
  mkdirSync(data);
  const certs = await initCertificates(path.join(dir, 'tls'), ['127.0.0.1', 'localhost']);
  const port = await freePort();
  const tlsPort = await freePort();
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`),
      `pidfile ${path.join(dir, 'slapd.pid')}`,
      `argsfile ${path.join(dir, 'slapd.args')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `TLSCACertificateFile ${certs.caCert}`,
      `TLSCertificateFile ${certs.serverCert}`,
      `TLSCertificateKeyFile ${certs.serverKey}`,
      'database mdb',
      'maxsize 16777216',
      `suffix "${BASE_DN}"`,
      `rootdn "${ADMIN_DN}"`,
      `rootpw ${ADMIN_PASSWORD}`,
      `directory ${data}`,
      'access to attrs=userPassword by self write by anonymous auth by * none',
      'access to * by * read',
      '',
    ].join('\n'),
  );
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
  let proc: ChildProcess | undefined;
  let out = '';
  const start = async () => {
    out = '';
    proc = spawn(SLAPD, ['-d', '0', '-f', conf, '-h', `${url}/ ${ldapsUrl}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    await waitForPort(port, proc, () => out);
    await waitForPort(tlsPort, proc, () => out);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.on('exit', r));
    p.kill('SIGTERM');
    await exited;
  };
  await start();
  const tool = (bin: string, args: string[], input?: string) =>
    runOk(bin, ['-x', '-H', url, '-D', ADMIN_DN, '-w', ADMIN_PASSWORD, ...args], { input, timeoutMs: 20_000 });
  const s: Slapd = {
    url,
    ldapsUrl,
    caFile: certs.caCert,
    dir,
    add: async (ldif) => {
      await tool('ldapadd', [], ldif);
    },
    modify: async (ldif) => {
      await tool('ldapmodify', [], ldif);
    },
    remove: async (dn) => {
      await tool('ldapdelete', [dn]);
    },
    start,
    stop,
  };
  return s;
}

/** Stops the server and removes its files. */
export async function destroySlapd(s: Slapd | undefined): Promise<void> {
  if (!s) return;
  await s.stop();
  rmSync(s.dir, { recursive: true, force: true });
}

/** LDIF of a person in ou=people. */
export function person(uid: string, password: string, mail = `${uid}@example.com`, extra: string[] = []): string {
  return [
    `dn: uid=${uid},ou=people,${BASE_DN}`,
    'objectClass: inetOrgPerson',
    `uid: ${uid}`,
    `cn: ${uid}`,
    `sn: ${uid}`,
    `mail: ${mail}`,
    `userPassword: ${password}`,
    ...extra,
    '',
  ].join('\n');
}

/** LDIF of a groupOfNames in ou=groups. */
export function group(cn: string, memberUids: string[]): string {
  return [
    `dn: cn=${cn},ou=groups,${BASE_DN}`,
    'objectClass: groupOfNames',
    `cn: ${cn}`,
    ...memberUids.map((u) => `member: uid=${u},ou=people,${BASE_DN}`),
    '',
  ].join('\n');
}

export const BASE_LDIF = [
  `dn: ${BASE_DN}`,
  'objectClass: dcObject',
  'objectClass: organization',
  'dc: example',
  'o: Example',
  '',
  `dn: ou=people,${BASE_DN}`,
  'objectClass: organizationalUnit',
  'ou: people',
  '',
  `dn: ou=groups,${BASE_DN}`,
  'objectClass: organizationalUnit',
  'ou: groups',
  '',
].join('\n');

export { run };
