// The values the operator generates once and then keeps in Secrets it owns: database and Redis passwords,
// the scanner's PSK, DATABASE_SECRET_KEY, and the managed CA + server certificate (berth certs init's code).
// Impure (randomness, a temporary directory): the runner calls it before the pure reconcile.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomToken } from '../crypto/index.js';
import { initCertificates } from '../startup/certs.js';
import { names, type Generated } from './components.js';
import { TLS_NAMES_ANNOTATION, type BerthRegistry, type K8sObject } from './types.js';

function field(s: K8sObject | undefined, key: string): string | undefined {
  const v = (s?.data as Record<string, string> | undefined)?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

/** Reuses every value already stored; creates only what is missing. `tlsNames` undefined: tls is not managed. */
export async function ensureGenerated(
  r: BerthRegistry,
  secrets: (name: string) => K8sObject | undefined,
  tlsNames: string[] | undefined,
): Promise<Generated> {
  const n = names(r);
  const pg = secrets(n.postgres);
  const rd = secrets(n.redis);
  const keys = secrets(n.keys);
  const g: Generated = {
    postgresPassword: field(pg, 'POSTGRES_PASSWORD') ?? randomToken(24),
    redisPassword: field(rd, 'password') ?? randomToken(24),
    scannerPsk: field(keys, 'SECURITY_SCANNER_V4_PSK') ?? Buffer.from(randomToken(32), 'base64url').toString('base64'),
    databaseSecretKey: field(keys, 'DATABASE_SECRET_KEY') ?? randomToken(48),
  };
  if (tlsNames) {
    const t = secrets(n.tls);
    const have = { caCrt: field(t, 'ca.crt'), caKey: field(t, 'ca.key'), tlsCrt: field(t, 'tls.crt'), tlsKey: field(t, 'tls.key') };
    const sameNames = t?.metadata.annotations?.[TLS_NAMES_ANNOTATION] === tlsNames.join(',');
    if (have.caCrt && have.caKey && have.tlsCrt && have.tlsKey && sameNames) {
      g.tls = { caCrt: have.caCrt, caKey: have.caKey, tlsCrt: have.tlsCrt, tlsKey: have.tlsKey, names: tlsNames };
    } else {
      g.tls = await issue(tlsNames, have.caCrt && have.caKey ? { crt: have.caCrt, key: have.caKey } : undefined);
    }
  }
  return g;
}

/** `berth certs init` in a private temporary directory; an existing CA is kept (clients already trust it). */
async function issue(tlsNames: string[], ca: { crt: string; key: string } | undefined): Promise<NonNullable<Generated['tls']>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-operator-tls-'));
  try {
    if (ca) {
      writeFileSync(path.join(dir, 'ca.crt'), ca.crt);
      writeFileSync(path.join(dir, 'ca.key'), ca.key, { mode: 0o600 });
    }
    const res = await initCertificates(dir, tlsNames);
    return {
      caCrt: readFileSync(res.caCert, 'utf8'),
      caKey: readFileSync(res.caKey, 'utf8'),
      tlsCrt: readFileSync(res.serverCert, 'utf8'),
      tlsKey: readFileSync(res.serverKey, 'utf8'),
      names: tlsNames,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
