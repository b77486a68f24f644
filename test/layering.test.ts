// The layers of docs/ARCHITECTURE.md, enforced (like test/crypto-boundary.test.ts for node:crypto):
//   - src/http/ is the edge: no database queries there (no kysely, no `sql` template, no query builder call,
//     no `ctx.db` / `.db` handle, no import of src/db/). Handlers call services.
//   - the core (src/services, src/oci, src/db, src/storage, src/scanner, src/startup) never imports Fastify:
//     it takes a Principal and plain values, never a request. No exception: the Clair API's HTTP plug-in is
//     edge code and lives in src/http/scanner-api/ (its PSK JWTs stay in src/scanner/clair-api/auth.ts, which
//     the remote-scanner client uses too).
// Fails with file:line for every violation; the last test plants violations in a temporary fixture tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { sourceFiles } from './helpers/source-files.ts';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

/** Layers that must not import Fastify (or any Fastify plug-in package). */
const CORE = ['src/services/', 'src/oci/', 'src/db/', 'src/storage/', 'src/scanner/', 'src/startup/'];

interface Violation {
  where: string;
  what: string;
}

/** What the query rule looks for in src/http/ (code only: comments are skipped). */
const QUERY_PATTERNS: [RegExp, string][] = [
  [/\bsql\s*`/, 'a raw sql`…` query'],
  [/\.(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto|selectNoFrom)\s*\(/, 'a query builder call'],
  [/\bctx\.db\b|\.db\s*\.\s*(selectFrom|insertInto|updateTable|deleteFrom|transaction|executeQuery|schema)\b/, 'the raw database handle'],
  [/\b(?:ctx|context|accounts\.ctx)\s*\.\s*db\b/, 'the raw database handle'],
];

export function scanLayering(rel: string, text: string): Violation[] {
  const out: Violation[] = [];
  const inHttp = rel.startsWith('src/http/');
  const inCore = CORE.some((d) => rel.startsWith(d));
  if (!inHttp && !inCore) return out;
  let inBlock = false;
  text.split('\n').forEach((line, i) => {
    const where = `${rel}:${i + 1}`;
    let code = line;
    if (inBlock) {
      const end = code.indexOf('*/');
      if (end < 0) return;
      code = code.slice(end + 2);
      inBlock = false;
    }
    code = code.replace(/\/\*.*?\*\//g, '');
    const open = code.indexOf('/*');
    if (open >= 0) {
      inBlock = true;
      code = code.slice(0, open);
    }
    code = code.replace(/(^|[^:'"`])\/\/.*$/, '$1');
    if (!code.trim()) return;
    const specs = [...code.matchAll(/(?:from\s*|import\s*\(\s*|require\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]);
    if (inHttp) {
      for (const spec of specs) {
        if (spec === 'kysely' || spec.startsWith('kysely/'))
          out.push({ where, what: `imports ${spec}: no database queries in src/http/ (move the query into a service)` });
        else if (/(^|\/)db\/[^/]+$/.test(spec) && spec.startsWith('.'))
          out.push({ where, what: `imports ${spec}: src/http/ does not reach the database layer (go through a service)` });
      }
      for (const [re, what] of QUERY_PATTERNS) {
        if (re.test(code)) {
          out.push({ where, what: `${what}: no database queries in src/http/ (move it into a service)` });
          break;
        }
      }
    }
    if (inCore) {
      for (const spec of specs) {
        if (spec === 'fastify' || spec.startsWith('fastify/') || spec.startsWith('@fastify/')) {
          out.push({
            where,
            what: `imports ${spec}: the core (${CORE.join(', ')}) never sees HTTP (take a Principal and plain values; routes live in src/http/)`,
          });
        }
      }
    }
  });
  return out;
}

const files = sourceFiles;

/** Every violation under `base` (paths reported relative to it). */
export function checkTree(base: string): Violation[] {
  return files(path.join(base, 'src')).flatMap((f) =>
    scanLayering(path.relative(base, f).split(path.sep).join('/'), readFileSync(f, 'utf8')),
  );
}

test('no database queries in src/http/, no Fastify import in the core', () => {
  const http = files(path.join(root, 'src/http'));
  const core = CORE.flatMap((d) => files(path.join(root, d)));
  assert.ok(http.length > 20 && core.length > 100, `scanned only ${http.length} edge and ${core.length} core files`);
  assert.deepEqual(
    checkTree(root).map((v) => `${v.where}: ${v.what}`),
    [],
  );
});

test('each rule catches its violation, with file and line', () => {
  const cases: [string, string, RegExp][] = [
    ['src/http/api/x.ts', "import { sql } from 'kysely';", /imports kysely: no database queries in src\/http\//],
    ['src/http/api/x.ts', 'const r = await sql`select 1`.execute(db);', /raw sql/],
    [
      'src/http/api/x.ts',
      "const rows = await accounts.ctx.db.selectFrom('account').selectAll().execute();",
      /query builder call|raw database handle/,
    ],
    ['src/http/registry/x.ts', 'await fn(ctx.db, name);', /raw database handle/],
    ['src/http/auth/x.ts', "import type { DB } from '../../db/database.js';", /does not reach the database layer/],
    ['src/services/x.ts', "import type { FastifyRequest } from 'fastify';", /never sees HTTP/],
    ['src/oci/x.ts', "const f = await import('fastify');", /never sees HTTP/],
    ['src/db/x.ts', "import cors from '@fastify/cors';", /never sees HTTP/],
    ['src/storage/x.ts', "import Fastify from 'fastify';", /never sees HTTP/],
    ['src/scanner/clair-api/x.ts', "import type { FastifyInstance } from 'fastify';", /never sees HTTP/],
    ['src/startup/x.ts', "import type { FastifyReply } from 'fastify';", /never sees HTTP/],
  ];
  for (const [file, line, expected] of cases) {
    const v = scanLayering(file, `// line one\n${line}`);
    assert.equal(v.length, 1, `${file}: ${line} -> ${JSON.stringify(v)}`);
    assert.match(v[0].what, expected);
    assert.equal(v[0].where, `${file}:2`);
  }
  // Allowed: Fastify at the edge, services called from the edge, queries in the core, words in comments.
  assert.deepEqual(scanLayering('src/http/app.ts', "import Fastify from 'fastify';"), []);
  assert.deepEqual(scanLayering('src/http/api/x.ts', 'const s = await registryStats(accounts.ctx);'), []);
  assert.deepEqual(scanLayering('src/services/x.ts', "const r = await this.ctx.db.selectFrom('tag').execute();"), []);
  assert.deepEqual(scanLayering('src/http/api/x.ts', "// no ctx.db.selectFrom('x') here\n/* sql`x` */"), []);
  assert.deepEqual(scanLayering('src/cli/x.ts', "import Fastify from 'fastify';"), []);
});

test('the checker fails on violations planted in a real file tree', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-layering-'));
  try {
    mkdirSync(path.join(dir, 'src/http/api'), { recursive: true });
    mkdirSync(path.join(dir, 'src/services'), { recursive: true });
    writeFileSync(
      path.join(dir, 'src/http/api/stats.ts'),
      [
        '// A handler that queries the database itself.',
        "import type { FastifyInstance } from 'fastify';",
        'export async function stats(app: FastifyInstance, ctx: { db: any }) {',
        "  app.get('/stats', async () => ctx.db.selectFrom('account').selectAll().execute());",
        '}',
      ].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'src/services/access.ts'),
      [
        '// A service that takes the request.',
        '',
        "import type { FastifyRequest } from 'fastify';",
        'export const canRead = (req: FastifyRequest) => !!req.headers.authorization;',
      ].join('\n'),
    );
    writeFileSync(path.join(dir, 'src/services/clean.ts'), 'export const ok = 1;\n');
    const found = checkTree(dir).map((v) => v.where);
    assert.deepEqual(found.sort(), ['src/http/api/stats.ts:4', 'src/services/access.ts:3']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
