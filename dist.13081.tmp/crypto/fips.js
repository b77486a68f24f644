import { getFips, X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
const APPROVED_ALGORITHMS = {
  "content digests (sha256:, sha384:, sha512:)": "SHA-256, SHA-384, SHA-512 (FIPS 180-4)",
  "stored token digests (robot, app and session tokens)": "SHA-256",
  "passwords": "PBKDF2-HMAC-SHA256, 16-byte salt, 32-byte key, >= 1000 iterations (SP 800-132)",
  "database secrets (token-signing private keys)": "AES-256-GCM, 96-bit random IV; key by HKDF-SHA256 (SP 800-38D, SP 800-56C)",
  "registry tokens (JWT)": "ES256 = ECDSA P-256 with SHA-256, or RS256 = RSA 3072 PKCS#1 v1.5 with SHA-256 (FIPS 186-4/5)",
  "certificates made by berth certs init": "ECDSA P-256 with SHA-256; key identifiers by SHA-256 (RFC 7093)",
  "random values (ids, tokens, salts, IVs, serials)": "the provider's DRBG (SP 800-90A)",
  "TLS": "TLS 1.2 and 1.3, ECDHE with P-256/P-384/P-521, AES-GCM suites only"
};
const FIPS_TLS_CIPHERS = [
  "TLS_AES_256_GCM_SHA384",
  "TLS_AES_128_GCM_SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES128-GCM-SHA256"
];
const FIPS_TLS_SIGALGS = "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:RSA-PSS+SHA256:RSA-PSS+SHA384:RSA-PSS+SHA512:RSA+SHA256:RSA+SHA384:RSA+SHA512";
const FIPS_TLS_CURVES = "P-256:P-384:P-521";
const TLS_VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];
const APPROVED_SUITE = /^(TLS_AES_(128|256)_GCM_SHA(256|384)|TLS_AES_128_CCM(_8)?_SHA256|(ECDHE-(ECDSA|RSA)|DHE-RSA)-AES(128|256)-(GCM-SHA(256|384)|CCM8?|SHA(256|384)))$/;
function whyNotApproved(suite) {
  const s = suite.toUpperCase();
  if (s.includes("CHACHA20")) return "ChaCha20-Poly1305 is not a FIPS-approved cipher";
  if (/RC4|DES|3DES|IDEA|SEED|CAMELLIA|ARIA|NULL|EXP/.test(s)) return "its cipher is not FIPS-approved";
  if (/MD5/.test(s)) return "MD5 is not FIPS-approved";
  if (/(^|-)SHA$/.test(s)) return "it uses HMAC-SHA1 with CBC (TLS 1.2 in FIPS mode needs SHA-2 suites)";
  if (/PSK|SRP|ADH|AECDH|ANULL/.test(s)) return "its key exchange is not FIPS-approved";
  return "it is not one of the FIPS-approved suites";
}
function fipsStatus() {
  const conf = process.env.OPENSSL_CONF;
  return { active: getFips() === 1, openssl: process.versions.openssl, opensslConf: conf, module: conf ? findModule(conf) : void 0 };
}
function findModule(conf, depth = 0) {
  let text;
  try {
    text = readFileSync(conf, "utf8");
  } catch {
    return void 0;
  }
  const m = /^\s*module\s*=\s*(\S+)/m.exec(text);
  if (m) return m[1];
  if (depth > 2) return void 0;
  for (const inc of text.matchAll(/^\s*\.include\s*=?\s*(\S+)/gm)) {
    const p = path.resolve(path.dirname(conf), inc[1]);
    const found = existsSync(p) ? findModule(p, depth + 1) : void 0;
    if (found) return found;
  }
  return void 0;
}
function describeFips(s = fipsStatus()) {
  if (!s.active) return `FIPS mode: off (OpenSSL ${s.openssl})`;
  const where = s.opensslConf ? `, OPENSSL_CONF=${s.opensslConf}${s.module ? `, module ${s.module}` : ""}` : " (system OpenSSL configuration)";
  return `FIPS mode: on: only FIPS provider algorithms (OpenSSL ${s.openssl} core${where})`;
}
class FipsError extends Error {
}
function fipsFix(s = fipsStatus()) {
  const args = process.argv.slice(1).map((a) => /[\s'"]/.test(a) ? JSON.stringify(a) : a).join(" ");
  const why = process.execArgv.includes("--enable-fips") || process.execArgv.includes("--force-fips") ? "node was started with --enable-fips, but no FIPS provider is active" : "node was not started with --enable-fips";
  return [
    `FEATURE_FIPS is on, but this process is not in FIPS mode (crypto.getFips() = 0, OpenSSL ${s.openssl}): ${why}.`,
    "Fix: start Berth with an OpenSSL FIPS provider and --enable-fips:",
    "  scripts/fips-provider.sh      # builds it once into /var/cache/berth-fips and prints the config path",
    `  OPENSSL_CONF=/var/cache/berth-fips/openssl.cnf ${process.execPath} --enable-fips ${args}`,
    "On RHEL with the system in FIPS mode (fips-mode-setup --enable), Node built against the system OpenSSL is in FIPS mode already (or add --enable-fips).",
    "See docs/FIPS.md. To run without FIPS, remove FEATURE_FIPS (or --fips)."
  ].join("\n");
}
function assertFipsRuntime() {
  const s = fipsStatus();
  if (!s.active) throw new FipsError(fipsFix(s));
  return s;
}
function tlsPolicyProblems(p) {
  const problems = [];
  for (const v of p.protocols ?? []) {
    if (!TLS_VERSIONS.includes(v)) problems.push(`SSL_PROTOCOLS: unknown protocol "${v}" (use ${TLS_VERSIONS.join(", ")})`);
    else if (p.fips && (v === "TLSv1" || v === "TLSv1.1")) problems.push(`SSL_PROTOCOLS: FIPS mode refuses ${v}: only TLSv1.2 and TLSv1.3 are allowed`);
  }
  const known = (p.protocols ?? []).filter((v) => TLS_VERSIONS.includes(v));
  if (known.length) {
    const idx = known.map((v) => TLS_VERSIONS.indexOf(v)).sort();
    if (idx[idx.length - 1] - idx[0] + 1 !== new Set(idx).size) problems.push("SSL_PROTOCOLS: must be a contiguous range of versions (for example [TLSv1.2, TLSv1.3])");
  }
  if (p.fips) {
    for (const c of p.ciphers ?? []) {
      if (!APPROVED_SUITE.test(c)) problems.push(`SSL_CIPHERS: FIPS mode refuses "${c}": ${whyNotApproved(c)} (allowed: ${FIPS_TLS_CIPHERS.join(", ")}, and other ECDHE AES-GCM/CCM/CBC-SHA2 suites)`);
    }
  }
  return problems;
}
function tlsOptions(p) {
  const o = {};
  const versions = (p.protocols ?? []).filter((v) => TLS_VERSIONS.includes(v));
  if (versions.length) {
    const idx = versions.map((v) => TLS_VERSIONS.indexOf(v)).sort();
    o.minVersion = TLS_VERSIONS[idx[0]];
    o.maxVersion = TLS_VERSIONS[idx[idx.length - 1]];
  }
  if (p.ciphers?.length) o.ciphers = p.ciphers.join(":");
  if (p.fips) {
    if (!o.minVersion || TLS_VERSIONS.indexOf(o.minVersion) < 2) o.minVersion = "TLSv1.2";
    o.ciphers ??= FIPS_TLS_CIPHERS.join(":");
    o.sigalgs = FIPS_TLS_SIGALGS;
    o.ecdhCurve = FIPS_TLS_CURVES;
    o.honorCipherOrder = true;
  }
  return o;
}
function applyFipsTlsDefaults() {
  tls.DEFAULT_MIN_VERSION = "TLSv1.2";
  tls.DEFAULT_ECDH_CURVE = FIPS_TLS_CURVES;
  tls.DEFAULT_CIPHERS = FIPS_TLS_CIPHERS.join(":");
}
function tlsKeyProblems(certPem, keyPem, where) {
  const problems = [];
  const check = (what, type, details) => {
    if (type === "rsa" || type === "rsa-pss") {
      if ((details?.modulusLength ?? 0) < 2048) problems.push(`${where}: FIPS mode refuses the ${what}: an RSA key of ${details?.modulusLength} bits (at least 2048 are required; berth certs init makes ECDSA P-256 keys)`);
    } else if (type === "ec") {
      if (!["prime256v1", "secp384r1", "secp521r1"].includes(details?.namedCurve ?? "")) problems.push(`${where}: FIPS mode refuses the ${what}: an EC key on curve ${details?.namedCurve} (use P-256, P-384 or P-521)`);
    } else problems.push(`${where}: FIPS mode refuses the ${what}: a ${type} key (use ECDSA P-256/P-384 or RSA >= 2048)`);
  };
  try {
    const cert = new X509Certificate(certPem);
    check("certificate", cert.publicKey.asymmetricKeyType, cert.publicKey.asymmetricKeyDetails);
  } catch (e) {
    problems.push(`${where}: cannot read the certificate: ${e.message}`);
  }
  try {
    const key = createPrivateKey(keyPem);
    check("private key", key.asymmetricKeyType, key.asymmetricKeyDetails);
  } catch (e) {
    problems.push(`${where}: cannot read the private key in FIPS mode: ${e.message}`);
  }
  return problems;
}
function fipsConfigProblems(raw) {
  const fips = raw.FEATURE_FIPS === true;
  const problems = tlsPolicyProblems({ fips, ciphers: raw.SSL_CIPHERS, protocols: raw.SSL_PROTOCOLS });
  if (fips && raw.TOKEN_SIGNING_ALGORITHM && !["ES256", "RS256"].includes(raw.TOKEN_SIGNING_ALGORITHM)) {
    problems.push(`TOKEN_SIGNING_ALGORITHM: FIPS mode refuses ${raw.TOKEN_SIGNING_ALGORITHM} (use ES256 or RS256)`);
  }
  if (fips && raw.PBKDF2_ITERATIONS !== void 0 && raw.PBKDF2_ITERATIONS < 1e3) {
    problems.push("PBKDF2_ITERATIONS: FIPS mode needs at least 1000 (SP 800-132)");
  }
  return problems;
}
export {
  APPROVED_ALGORITHMS,
  FIPS_TLS_CIPHERS,
  FipsError,
  applyFipsTlsDefaults,
  assertFipsRuntime,
  describeFips,
  fipsConfigProblems,
  fipsFix,
  fipsStatus,
  tlsKeyProblems,
  tlsOptions,
  tlsPolicyProblems
};
//# sourceMappingURL=fips.js.map
