// The crypto boundary (issue 8): src/crypto/ is the only code that imports node:crypto or reaches
// WebCrypto, no crypto package outside the two reviewed libraries is used at all, and src/crypto/
// itself names no non-approved algorithm. Fails with file:line for every violation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sourceFiles } from './helpers/source-files.ts';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

/** Crypto packages no code may use (FIPS mode cannot vouch for their algorithms). */
const BANNED_PACKAGES = [
  'bcrypt',
  'bcryptjs',
  'argon2',
  '@node-rs/argon2',
  '@node-rs/bcrypt',
  'scrypt',
  'scrypt-js',
  'md5',
  'md5-file',
  'blueimp-md5',
  'sha1',
  'js-sha1',
  'js-sha256',
  'js-sha512',
  'sha.js',
  'create-hash',
  'create-hmac',
  'crypto-js',
  'node-forge',
  'tweetnacl',
  'libsodium',
  'libsodium-wrappers',
  'sodium-native',
  'elliptic',
  'jsrsasign',
  'node-rsa',
  'hash.js',
  'pbkdf2',
  'browserify-aes',
  'crypto-browserify',
  'jsonwebtoken',
  'jwa',
  'jws',
  '@peculiar/webcrypto',
  'webcrypto-core',
  'xxhash',
  'xxhash-wasm',
  'hash-wasm',
];
const BANNED_PREFIXES = ['@noble/', '@stablelib/', '@scure/'];
/** Libraries that frame data (JOSE, X.509/ASN.1) over the WebCrypto keys crypto/ hands them; allowed in one file each. */
const REVIEWED: Record<string, string[]> = {
  jose: ['src/services/accounts/tokens.ts', 'src/scanner/clair-api/auth.ts'],
  '@peculiar/x509': ['src/startup/certs.ts'],
};
/** Files outside src/ that may import node:crypto, and why (they are tooling, not Berth). */
const TOOLING_ALLOWED: Record<string, string> = {
  'scripts/run-tests.mjs': 'asks a child node whether FIPS mode is on (getFips) before the FIPS test run',
  // The benchmarks drive a registry from outside, like a client: they hash what they push and pull
  // to check it independently (SHA-256 only), as the tests do.
  'bench/lib.mjs': 'client-side SHA-256 of pushed and pulled bytes (benchmark harness)',
  'bench/memory.mjs': 'client-side SHA-256 of the streamed 2 GiB blob (benchmark harness)',
  'bench/metrics-overhead.mjs': 'client-side SHA-256 of pushed blobs (benchmark harness)',
  'bench/storage.mjs': 'client-side SHA-256 of pushed and pulled bytes (storage benchmark)',
  'bench/read-path.mjs': 'client-side SHA-256 of pushed blobs and random blob contents (read-path benchmark)',
  'bench/big-io.mjs': 'client-side SHA-256 of pulled bytes (as regbench does) and random blob contents (large push and pull benchmark)',
  'bench/pull-ab.mjs': 'client-side SHA-256 of pulled bytes (as regbench does) and random blob contents (large pull A/B benchmark)',
  'bench/scale-gen.mjs': 'SHA-256 digests of the generated rows of a 100k-repository database (scale benchmark)',
  'bench/tag-list.mjs': 'client-side SHA-256 digests of the blobs it pushes (tag list benchmark)',
};
/** Algorithm names src/crypto/ must not use (fips.ts names some of them in refusal messages only). */
const NON_APPROVED =
  /['"`](md4|md5|sha1|sha-1|ripemd160|rmd160|des|des-ede3(-cbc)?|rc2|rc4|bf|blowfish|chacha20(-poly1305)?|scrypt|whirlpool|sm3|sm4|aes-\d+-ecb)['"`]/i;

interface Violation {
  where: string;
  what: string;
}

export function scanSource(rel: string, text: string): Violation[] {
  const out: Violation[] = [];
  const inCrypto = rel.startsWith('src/crypto/');
  const mayImportCrypto = inCrypto || rel in TOOLING_ALLOWED;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const where = `${rel}:${i + 1}`;
    const code = line.replace(/^\s*(\/\/|\*|\/\*).*$/, '');
    if (!code.trim()) return;
    for (const m of code.matchAll(/(?:from\s*|import\s*\(\s*|require\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/g)) {
      const spec = m[1];
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if ((pkg === 'node:crypto' || pkg === 'crypto') && !mayImportCrypto)
        out.push({ where, what: `imports ${spec}: only src/crypto/ may (add a function there)` });
      if (BANNED_PACKAGES.includes(pkg) || BANNED_PREFIXES.some((p) => pkg.startsWith(p)))
        out.push({ where, what: `imports the crypto package ${spec}: not allowed anywhere (FIPS mode)` });
      if (REVIEWED[pkg] && !REVIEWED[pkg].includes(rel))
        out.push({
          where,
          what: `imports ${spec}: only ${REVIEWED[pkg].join(', ')} may (it must get its keys and WebCrypto from src/crypto/)`,
        });
    }
    if (!inCrypto && /\b(globalThis\.crypto|crypto\.subtle|webcrypto|getRandomValues|process\.binding\(\s*['"]crypto)/.test(code)) {
      out.push({ where, what: 'reaches WebCrypto / the crypto binding directly: only src/crypto/ may' });
    }
    if (inCrypto && !rel.endsWith('/fips.ts') && NON_APPROVED.test(code))
      out.push({ where, what: `names a non-approved algorithm: ${NON_APPROVED.exec(code)![0]}` });
  });
  return out;
}

const files = sourceFiles;

test('only src/crypto/ imports node:crypto; no crypto packages; no non-approved algorithm names in src/crypto/', () => {
  const all = ['src', 'bin', 'scripts', 'bench'].flatMap((d) => files(path.join(root, d)));
  assert.ok(all.length > 50, `scanned only ${all.length} files`);
  const violations = all.flatMap((f) => scanSource(path.relative(root, f).split(path.sep).join('/'), readFileSync(f, 'utf8')));
  assert.deepEqual(
    violations.map((v) => `${v.where}: ${v.what}`),
    [],
  );
});

test('the crypto boundary has real teeth (each rule catches its violation)', () => {
  const cases: [string, string, RegExp][] = [
    ['src/services/x.ts', "import { createHash } from 'node:crypto';", /only src\/crypto\/ may/],
    ['src/services/x.ts', "const c = require('crypto');", /only src\/crypto\/ may/],
    ['src/http/x.ts', "const { pbkdf2 } = await import('crypto');", /only src\/crypto\/ may/],
    ['src/services/x.ts', "import bcrypt from 'bcrypt';", /crypto package bcrypt/],
    ['src/crypto/index.ts', "import argon2 from 'argon2';", /crypto package argon2/],
    ['scripts/x.mjs', "import md5 from 'md5';", /crypto package md5/],
    ['src/x.ts', "import { sha256 } from '@noble/hashes/sha256';", /crypto package/],
    [
      'src/http/api/x.ts',
      "import { SignJWT } from 'jose';",
      /only src\/services\/accounts\/tokens.ts, src\/scanner\/clair-api\/auth.ts may/,
    ],
    ['src/http/x.ts', 'const k = await globalThis.crypto.subtle.generateKey(p, true, u);', /WebCrypto/],
    ['src/crypto/index.ts', "return createHash('md5').update(x).digest('hex');", /non-approved algorithm/],
    ['src/crypto/secrets.ts', "createCipheriv('chacha20-poly1305', key, iv)", /non-approved algorithm/],
  ];
  for (const [file, line, expected] of cases) {
    const v = scanSource(file, line);
    assert.equal(v.length, 1, `${file}: ${line} -> ${JSON.stringify(v)}`);
    assert.match(v[0].what, expected);
    assert.equal(v[0].where, `${file}:1`);
  }
  assert.deepEqual(scanSource('src/crypto/index.ts', "import { createHash } from 'node:crypto';"), []);
  assert.deepEqual(scanSource('src/services/accounts/tokens.ts', "import { SignJWT } from 'jose';"), []);
  assert.deepEqual(scanSource('src/x.ts', "// import md5 from 'md5' would be refused"), []);
});

test('package.json depends on no banned crypto package', () => {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.optionalDependencies });
  assert.deepEqual(
    deps.filter((d) => BANNED_PACKAGES.includes(d) || BANNED_PREFIXES.some((p) => d.startsWith(p))),
    [],
  );
});
