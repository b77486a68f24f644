// FIPS policy: which algorithms Berth uses, whether the process runs with a FIPS provider, the TLS
// settings of FIPS mode, and which configuration FIPS mode refuses. docs/FIPS.md explains it all.
import { getFips, X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

/** What Berth uses, where (shown by docs/FIPS.md and checked by test/fips.test.ts). */
export const APPROVED_ALGORITHMS = {
  'content digests (sha256:, sha384:, sha512:)': 'SHA-256, SHA-384, SHA-512 (FIPS 180-4)',
  'stored token digests (robot, app and session tokens)': 'SHA-256',
  passwords: 'PBKDF2-HMAC-SHA256, 16-byte salt, 32-byte key, >= 1000 iterations (SP 800-132)',
  'database secrets (token-signing private keys)': 'AES-256-GCM, 96-bit random IV; key by HKDF-SHA256 (SP 800-38D, SP 800-56C)',
  'registry tokens (JWT)': 'ES256 = ECDSA P-256 with SHA-256, or RS256 = RSA 3072 PKCS#1 v1.5 with SHA-256 (FIPS 186-4/5)',
  'certificates made by berth certs init': 'ECDSA P-256 with SHA-256; key identifiers by SHA-256 (RFC 7093)',
  'random values (ids, tokens, salts, IVs, serials)': "the provider's DRBG (SP 800-90A)",
  TLS: 'TLS 1.2 and 1.3, ECDHE with P-256/P-384/P-521, AES-GCM suites only',
} as const;

/** TLS 1.3 and TLS 1.2 suites allowed in FIPS mode (OpenSSL names). */
export const FIPS_TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256',
] as const;
const FIPS_TLS_SIGALGS =
  'ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:RSA-PSS+SHA256:RSA-PSS+SHA384:RSA-PSS+SHA512:RSA+SHA256:RSA+SHA384:RSA+SHA512';
const FIPS_TLS_CURVES = 'P-256:P-384:P-521';
const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type TlsVersion = (typeof TLS_VERSIONS)[number];

/** Approved TLS 1.2 suites beyond the defaults (SP 800-52r2): ECDHE/DHE with AES-GCM, AES-CCM or AES-CBC-SHA2. */
const APPROVED_SUITE =
  /^(TLS_AES_(128|256)_GCM_SHA(256|384)|TLS_AES_128_CCM(_8)?_SHA256|(ECDHE-(ECDSA|RSA)|DHE-RSA)-AES(128|256)-(GCM-SHA(256|384)|CCM8?|SHA(256|384)))$/;

function whyNotApproved(suite: string): string {
  const s = suite.toUpperCase();
  if (s.includes('CHACHA20')) return 'ChaCha20-Poly1305 is not a FIPS-approved cipher';
  if (/RC4|DES|3DES|IDEA|SEED|CAMELLIA|ARIA|NULL|EXP/.test(s)) return 'its cipher is not FIPS-approved';
  if (/MD5/.test(s)) return 'MD5 is not FIPS-approved';
  if (/(^|-)SHA$/.test(s)) return 'it uses HMAC-SHA1 with CBC (TLS 1.2 in FIPS mode needs SHA-2 suites)';
  if (/PSK|SRP|ADH|AECDH|ANULL/.test(s)) return 'its key exchange is not FIPS-approved';
  return 'it is not one of the FIPS-approved suites';
}

export interface FipsStatus {
  /** crypto.getFips() === 1: every algorithm this process can fetch comes from a FIPS provider. */
  active: boolean;
  openssl: string;
  opensslConf?: string;
  /** The FIPS module file named in OPENSSL_CONF (or the file it includes), when found. */
  module?: string;
}

export function fipsStatus(): FipsStatus {
  const conf = process.env.OPENSSL_CONF;
  return { active: getFips() === 1, openssl: process.versions.openssl, opensslConf: conf, module: conf ? findModule(conf) : undefined };
}

function findModule(conf: string, depth = 0): string | undefined {
  let text: string;
  try {
    text = readFileSync(conf, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^\s*module\s*=\s*(\S+)/m.exec(text);
  if (m) return m[1];
  if (depth > 2) return undefined;
  for (const inc of text.matchAll(/^\s*\.include\s*=?\s*(\S+)/gm)) {
    const p = path.resolve(path.dirname(conf), inc[1]);
    const found = existsSync(p) ? findModule(p, depth + 1) : undefined;
    if (found) return found;
  }
  return undefined;
}

/** One line naming the active provider, for the start-up log. */
export function describeFips(s: FipsStatus = fipsStatus()): string {
  if (!s.active) return `FIPS mode: off (OpenSSL ${s.openssl})`;
  const where = s.opensslConf
    ? `, OPENSSL_CONF=${s.opensslConf}${s.module ? `, module ${s.module}` : ''}`
    : ' (system OpenSSL configuration)';
  return `FIPS mode: on: only FIPS provider algorithms (OpenSSL ${s.openssl} core${where})`;
}

export class FipsError extends Error {}

/** The exact fix for a process that is not in FIPS mode. */
export function fipsFix(s: FipsStatus = fipsStatus()): string {
  const args = process.argv
    .slice(1)
    .map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a))
    .join(' ');
  const why =
    process.execArgv.includes('--enable-fips') || process.execArgv.includes('--force-fips')
      ? 'node was started with --enable-fips, but no FIPS provider is active'
      : 'node was not started with --enable-fips';
  return [
    `FEATURE_FIPS is on, but this process is not in FIPS mode (crypto.getFips() = 0, OpenSSL ${s.openssl}): ${why}.`,
    'Fix: start Berth with an OpenSSL FIPS provider and --enable-fips:',
    '  scripts/fips-provider.sh      # builds it once into /var/cache/berth-fips and prints the config path',
    `  OPENSSL_CONF=/var/cache/berth-fips/openssl.cnf ${process.execPath} --enable-fips ${args}`,
    'On RHEL with the system in FIPS mode (fips-mode-setup --enable), Node built against the system OpenSSL is in FIPS mode already (or add --enable-fips).',
    'See docs/FIPS.md. To run without FIPS, remove FEATURE_FIPS (or --fips).',
  ].join('\n');
}

/** Refuses to go on unless the process runs with a FIPS provider. */
export function assertFipsRuntime(): FipsStatus {
  const s = fipsStatus();
  if (!s.active) throw new FipsError(fipsFix(s));
  return s;
}

/** The TLS part of the configuration (Quay's SSL_CIPHERS / SSL_PROTOCOLS). */
export interface TlsPolicyInput {
  fips: boolean;
  ciphers?: string[];
  protocols?: string[];
}

export interface TlsOptions {
  minVersion?: TlsVersion;
  maxVersion?: TlsVersion;
  ciphers?: string;
  sigalgs?: string;
  ecdhCurve?: string;
  honorCipherOrder?: boolean;
}

/** Problems of a TLS configuration (FIPS mode refuses non-approved suites and protocols). */
export function tlsPolicyProblems(p: TlsPolicyInput): string[] {
  const problems: string[] = [];
  for (const v of p.protocols ?? []) {
    if (!(TLS_VERSIONS as readonly string[]).includes(v))
      problems.push(`SSL_PROTOCOLS: unknown protocol "${v}" (use ${TLS_VERSIONS.join(', ')})`);
    else if (p.fips && (v === 'TLSv1' || v === 'TLSv1.1'))
      problems.push(`SSL_PROTOCOLS: FIPS mode refuses ${v}: only TLSv1.2 and TLSv1.3 are allowed`);
  }
  const known = (p.protocols ?? []).filter((v) => (TLS_VERSIONS as readonly string[]).includes(v)) as TlsVersion[];
  if (known.length) {
    const idx = known.map((v) => TLS_VERSIONS.indexOf(v)).sort();
    if (idx[idx.length - 1] - idx[0] + 1 !== new Set(idx).size)
      problems.push('SSL_PROTOCOLS: must be a contiguous range of versions (for example [TLSv1.2, TLSv1.3])');
  }
  if (p.fips) {
    for (const c of p.ciphers ?? []) {
      if (!APPROVED_SUITE.test(c))
        problems.push(
          `SSL_CIPHERS: FIPS mode refuses "${c}": ${whyNotApproved(c)} (allowed: ${FIPS_TLS_CIPHERS.join(', ')}, and other ECDHE AES-GCM/CCM/CBC-SHA2 suites)`,
        );
    }
  }
  return problems;
}

/** Node TLS options for the HTTPS server: FIPS mode defaults to TLS 1.2+ with approved suites, curves and signatures. */
export function tlsOptions(p: TlsPolicyInput): TlsOptions {
  const o: TlsOptions = {};
  const versions = (p.protocols ?? []).filter((v) => (TLS_VERSIONS as readonly string[]).includes(v)) as TlsVersion[];
  if (versions.length) {
    const idx = versions.map((v) => TLS_VERSIONS.indexOf(v)).sort();
    o.minVersion = TLS_VERSIONS[idx[0]];
    o.maxVersion = TLS_VERSIONS[idx[idx.length - 1]];
  }
  if (p.ciphers?.length) o.ciphers = p.ciphers.join(':');
  if (p.fips) {
    if (!o.minVersion || TLS_VERSIONS.indexOf(o.minVersion) < 2) o.minVersion = 'TLSv1.2';
    o.ciphers ??= FIPS_TLS_CIPHERS.join(':');
    o.sigalgs = FIPS_TLS_SIGALGS;
    o.ecdhCurve = FIPS_TLS_CURVES;
    o.honorCipherOrder = true;
  }
  return o;
}

/**
 * FIPS mode for outgoing TLS too (scanner updaters, webhooks): TLS 1.2+, approved suites and NIST curves by
 * default for every client connection of this process. (The 3.0 FIPS provider still offers X25519.)
 */
export function applyFipsTlsDefaults(): void {
  tls.DEFAULT_MIN_VERSION = 'TLSv1.2';
  tls.DEFAULT_ECDH_CURVE = FIPS_TLS_CURVES;
  (tls as { DEFAULT_CIPHERS: string }).DEFAULT_CIPHERS = FIPS_TLS_CIPHERS.join(':');
}

/** Problems of a certificate and key for FIPS mode: RSA under 2048 bits, curves other than P-256/384/521, non-RSA/EC keys. */
export function tlsKeyProblems(certPem: Buffer | string, keyPem: Buffer | string, where: string): string[] {
  const problems: string[] = [];
  const check = (what: string, type: string | undefined, details: { modulusLength?: number; namedCurve?: string } | undefined) => {
    if (type === 'rsa' || type === 'rsa-pss') {
      if ((details?.modulusLength ?? 0) < 2048)
        problems.push(
          `${where}: FIPS mode refuses the ${what}: an RSA key of ${details?.modulusLength} bits (at least 2048 are required; berth certs init makes ECDSA P-256 keys)`,
        );
    } else if (type === 'ec') {
      if (!['prime256v1', 'secp384r1', 'secp521r1'].includes(details?.namedCurve ?? ''))
        problems.push(`${where}: FIPS mode refuses the ${what}: an EC key on curve ${details?.namedCurve} (use P-256, P-384 or P-521)`);
    } else problems.push(`${where}: FIPS mode refuses the ${what}: a ${type} key (use ECDSA P-256/P-384 or RSA >= 2048)`);
  };
  try {
    const cert = new X509Certificate(certPem);
    check('certificate', cert.publicKey.asymmetricKeyType, cert.publicKey.asymmetricKeyDetails);
  } catch (e) {
    problems.push(`${where}: cannot read the certificate: ${(e as Error).message}`);
  }
  try {
    const key = createPrivateKey(keyPem);
    check('private key', key.asymmetricKeyType, key.asymmetricKeyDetails);
  } catch (e) {
    problems.push(`${where}: cannot read the private key in FIPS mode: ${(e as Error).message}`);
  }
  return problems;
}

/** Problems of the crypto-related configuration keys in FIPS mode (everything else is approved by construction). */
export function fipsConfigProblems(raw: {
  FEATURE_FIPS?: boolean;
  SSL_CIPHERS?: string[];
  SSL_PROTOCOLS?: string[];
  TOKEN_SIGNING_ALGORITHM?: string;
  PBKDF2_ITERATIONS?: number;
}): string[] {
  const fips = raw.FEATURE_FIPS === true;
  const problems = tlsPolicyProblems({ fips, ciphers: raw.SSL_CIPHERS, protocols: raw.SSL_PROTOCOLS });
  if (fips && raw.TOKEN_SIGNING_ALGORITHM && !['ES256', 'RS256'].includes(raw.TOKEN_SIGNING_ALGORITHM)) {
    problems.push(`TOKEN_SIGNING_ALGORITHM: FIPS mode refuses ${raw.TOKEN_SIGNING_ALGORITHM} (use ES256 or RS256)`);
  }
  if (fips && raw.PBKDF2_ITERATIONS !== undefined && raw.PBKDF2_ITERATIONS < 1000) {
    problems.push('PBKDF2_ITERATIONS: FIPS mode needs at least 1000 (SP 800-132)');
  }
  return problems;
}
