#!/usr/bin/env node
// Fills a fresh Berth database with a large, consistent registry for bench/scale.mjs ("Flat at scale" in
// docs/PERFORMANCE.md). Berth's migrations run first; then, straight into the tables:
//
//   organizations   --orgs (1,000)        accounts org0000…, kind 'org'
//   repositories    --repos (100,000)     org%04d/repo%06d, owned by their organization, private
//   tags            --tags (1,000,000)    one manifest each; repository 1 (org0000/repo000001) holds a tenth
//                                         of them (the "big repository"), the rest are spread evenly
//   manifests       = tags                real OCI image manifests (sha256 of their content) naming a config and
//                                         layers; manifest_ref rows for each; an open tag_history row per tag
//   blobs           --blobs (10,000,000)  blobs/tags per manifest (config + layers), each linked to its
//                                         repository (repository_blob); no bytes on disk (gc never reaches
//                                         them: every one is referenced)
//
// Everything is older than gc's grace period and referenced, so a gc pass walks it all and removes nothing.
//
//   node bench/scale-gen.mjs --sqlite FILE [--orgs N --repos N --tags N --blobs N]
//   node bench/scale-gen.mjs --postgres URI …     (an empty database)
//
// SQLite: one prepared statement per table in transactions of 100,000 rows, journal off and synchronous off
// while generating (the file is checkpointed and switched back to WAL at the end). PostgreSQL:
// `insert … select … from generate_series` in slices of 1,000,000 rows, foreign-key triggers off for the load
// (session_replication_role = replica), then ANALYZE.
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';

// Under tsx already (tests import this file): use it; run directly: register tsx for Berth's TypeScript.
let migrations;
try {
  migrations = await import('../src/db/migrations.ts');
} catch {
  const { register } = await import('tsx/esm/api');
  register();
  migrations = await import('../src/db/migrations.ts');
}
const { migrate } = migrations;
const { Kysely, SqliteDialect, PostgresDialect } = await import('kysely');

export const DEFAULTS = { orgs: 1000, repos: 100_000, tags: 1_000_000, blobs: 10_000_000 };
/** Created a month ago: well past gc's grace period. */
const BASE = Date.UTC(2026, 0, 1);

const pad = (n, w) => String(n).padStart(w, '0');
export const orgName = (o) => `org${pad(o, 4)}`;
/** Repository i (1-based) belongs to organization (i-1) % orgs. */
export const repoName = (i, orgs) => `${orgName((i - 1) % orgs)}/repo${pad(i, 6)}`;
/** Blob k of manifest j (fake digests: no bytes are stored). */
const blobDigest = (j, k, per) => `sha256:${(j * per + k).toString(16).padStart(64, '0')}`;
const blobSize = (j, k) => (k === 0 ? 1000 + (j % 1000) : 1_000_000 * k + (j % 1000));
export const tagName = (j) => `t${pad(j, 7)}`;

export function layout(o) {
  const big = Math.max(1, Math.floor(o.tags / 10));
  const per = Math.max(2, Math.floor(o.blobs / o.tags));
  /** The repository of tag/manifest j (1-based). */
  const repoOf = (j) => (j <= big || o.repos === 1 ? 1 : 2 + ((j - big - 1) % (o.repos - 1)));
  return { big, per, repoOf };
}

const CONFIG_MT = 'application/vnd.oci.image.config.v1+json';
const LAYER_MT = 'application/vnd.oci.image.layer.v1.tar+gzip';
const MANIFEST_MT = 'application/vnd.oci.image.manifest.v1+json';

function manifestJson(j, per) {
  const layers = [];
  for (let k = 1; k < per; k++) layers.push(`{"mediaType":"${LAYER_MT}","digest":"${blobDigest(j, k, per)}","size":${blobSize(j, k)}}`);
  return `{"schemaVersion":2,"mediaType":"${MANIFEST_MT}","config":{"mediaType":"${CONFIG_MT}","digest":"${blobDigest(j, 0, per)}","size":${blobSize(j, 0)}},"layers":[${layers.join(',')}]}`;
}

let quiet = false;
const say = (msg) =>
  quiet || process.stderr.write(`[scale-gen ${new Date().toISOString().slice(11, 19)} load ${loadavg()[0].toFixed(1)}] ${msg}\n`);

export async function generateSqlite(file, o) {
  const { default: SQLite } = await import('better-sqlite3');
  const sqlite = new SQLite(file);
  const db = new Kysely({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrate(db, 'sqlite');
  sqlite.pragma('journal_mode = OFF');
  sqlite.pragma('synchronous = OFF');
  sqlite.pragma('cache_size = -1000000');
  sqlite.pragma('temp_store = MEMORY');
  const { per, repoOf } = layout(o);
  const t0 = Date.now();
  const batch = (label, n, stmt, row) => {
    const step = 100_000;
    for (let from = 1; from <= n; from += step) {
      const to = Math.min(n, from + step - 1);
      sqlite.transaction(() => {
        for (let i = from; i <= to; i++) row(stmt, i);
      })();
    }
    say(`${label}: ${n} rows`);
  };
  batch('organizations', o.orgs, sqlite.prepare("insert into account (id, name, kind, created_at) values (?, ?, 'org', ?)"), (s, i) =>
    s.run(i, orgName(i - 1), BASE),
  );
  batch(
    'repositories',
    o.repos,
    sqlite.prepare("insert into repository (id, name, created_at, namespace_id, visibility) values (?, ?, ?, ?, 'private')"),
    (s, i) => s.run(i, repoName(i, o.orgs), BASE, ((i - 1) % o.orgs) + 1),
  );
  const m = sqlite.prepare(
    'insert into manifest (id, repository_id, digest, media_type, size, content, created_at) values (?, ?, ?, ?, ?, ?, ?)',
  );
  const t = sqlite.prepare('insert into tag (repository_id, name, manifest_id, updated_at) values (?, ?, ?, ?)');
  const h = sqlite.prepare('insert into tag_history (repository_id, name, manifest_digest, start_ts, end_ts) values (?, ?, ?, ?, null)');
  const r = sqlite.prepare("insert into manifest_ref (manifest_id, digest, kind) values (?, ?, 'blob')");
  batch('manifests, tags, tag history, manifest refs', o.tags, null, (_s, j) => {
    const content = Buffer.from(manifestJson(j, per));
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    const repo = repoOf(j);
    const at = BASE + j * 1000;
    m.run(j, repo, digest, MANIFEST_MT, content.length, content, at);
    t.run(repo, tagName(j), j, at);
    h.run(repo, tagName(j), digest, at);
    for (let k = 0; k < per; k++) r.run(j, blobDigest(j, k, per));
  });
  const b = sqlite.prepare('insert into blob (digest, size, created_at, last_used_at) values (?, ?, ?, ?)');
  const l = sqlite.prepare('insert into repository_blob (repository_id, digest, created_at) values (?, ?, ?)');
  batch(`blobs and repository links (${per} per manifest)`, o.tags, null, (_s, j) => {
    const repo = repoOf(j);
    for (let k = 0; k < per; k++) {
      const d = blobDigest(j, k, per);
      b.run(d, blobSize(j, k), BASE, BASE);
      l.run(repo, d, BASE);
    }
  });
  sqlite.exec('analyze');
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  await db.destroy();
  say(`sqlite done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

export async function generatePostgres(uri, o) {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: uri, max: 1 });
  const db = new Kysely({ dialect: new PostgresDialect({ pool }) });
  await migrate(db, 'postgres');
  await db.destroy();
  const c = new pg.Client({ connectionString: uri });
  await c.connect();
  const t0 = Date.now();
  const { big, per } = layout(o);
  await c.query('set session_replication_role = replica');
  await c.query('set synchronous_commit = off');
  await c.query("set maintenance_work_mem = '512MB'");
  const q = async (label, text, params = []) => {
    const r = await c.query(text, params);
    say(`${label}: ${r.rowCount ?? ''}`);
  };
  // The same names and numbers as the SQLite generator (repoOf, blobDigest, blobSize, manifestJson).
  const repoOf = `(case when j <= ${big} or ${o.repos} = 1 then 1 else 2 + ((j - ${big} - 1) % (${o.repos} - 1)) end)`;
  const digest = (jk) => `'sha256:' || lpad(to_hex(${jk}), 64, '0')`;
  const size = (k) => `(case when ${k} = 0 then 1000 + (j % 1000) else 1000000 * ${k} + (j % 1000) end)`;
  await q(
    'organizations',
    `insert into account (id, name, kind, created_at) select i, 'org' || lpad((i - 1)::text, 4, '0'), 'org', $1 from generate_series(1, $2) i`,
    [BASE, o.orgs],
  );
  await q(
    'repositories',
    `insert into repository (id, name, created_at, namespace_id, visibility)
     select i, 'org' || lpad(((i - 1) % $2)::text, 4, '0') || '/repo' || lpad(i::text, 6, '0'), $1, ((i - 1) % $2) + 1, 'private'
     from generate_series(1, $3) i`,
    [BASE, o.orgs, o.repos],
  );
  const slice = 1_000_000;
  for (let from = 1; from <= o.tags; from += slice) {
    const to = Math.min(o.tags, from + slice - 1);
    // Manifest content built exactly as manifestJson() does, hashed by the server.
    await q(
      `manifests ${from}-${to}`,
      `insert into manifest (id, repository_id, digest, media_type, size, content, created_at)
       select j, ${repoOf}, 'sha256:' || encode(sha256(content), 'hex'), '${MANIFEST_MT}', octet_length(content), content, $1 + j * 1000
       from (select j, convert_to(
         '{"schemaVersion":2,"mediaType":"${MANIFEST_MT}","config":{"mediaType":"${CONFIG_MT}","digest":"' || ${digest(`j * ${per}`)} ||
         '","size":' || ${size(0)} || '},"layers":[' ||
         (select string_agg('{"mediaType":"${LAYER_MT}","digest":"' || ${digest(`j * ${per} + k`)} || '","size":' || ${size('k')} || '}', ',' order by k)
            from generate_series(1, ${per - 1}) k) || ']}', 'UTF8') as content
         from generate_series($2::bigint, $3::bigint) j) s`,
      [BASE, from, to],
    );
    await q(
      `tags ${from}-${to}`,
      `insert into tag (repository_id, name, manifest_id, updated_at)
       select ${repoOf}, 't' || lpad(j::text, 7, '0'), j, $1 + j * 1000 from generate_series($2::bigint, $3::bigint) j`,
      [BASE, from, to],
    );
    await q(
      `tag history ${from}-${to}`,
      `insert into tag_history (repository_id, name, manifest_digest, start_ts, end_ts)
       select m.repository_id, 't' || lpad(m.id::text, 7, '0'), m.digest, m.created_at, null from manifest m where m.id between $1 and $2`,
      [from, to],
    );
    await q(
      `manifest refs ${from}-${to}`,
      `insert into manifest_ref (manifest_id, digest, kind)
       select j, ${digest(`j * ${per} + k`)}, 'blob' from generate_series($1::bigint, $2::bigint) j, generate_series(0, ${per - 1}) k`,
      [from, to],
    );
    await q(
      `blobs ${from}-${to}`,
      `insert into blob (digest, size, created_at, last_used_at)
       select ${digest(`j * ${per} + k`)}, ${size('k')}, $1, $1 from generate_series($2::bigint, $3::bigint) j, generate_series(0, ${per - 1}) k`,
      [BASE, from, to],
    );
    await q(
      `repository links ${from}-${to}`,
      `insert into repository_blob (repository_id, digest, created_at)
       select ${repoOf}, ${digest(`j * ${per} + k`)}, $1 from generate_series($2::bigint, $3::bigint) j, generate_series(0, ${per - 1}) k`,
      [BASE, from, to],
    );
  }
  // The serial columns continue after the generated ids.
  for (const [table, col] of [
    ['account', 'id'],
    ['repository', 'id'],
    ['manifest', 'id'],
    ['tag_history', 'id'],
  ]) {
    await c.query(
      `select setval(pg_get_serial_sequence('${table}', '${col}'), (select coalesce(max(${col}), 0) + 1 from ${table}), false)`,
    );
  }
  await c.query('set session_replication_role = origin');
  await q('analyze', 'analyze');
  await c.end();
  say(`postgres done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

export async function generate(target, o, { log = true } = {}) {
  quiet = !log;
  const opts = { ...DEFAULTS, ...o };
  say(`${target.kind}: ${opts.orgs} organizations, ${opts.repos} repositories, ${opts.tags} tags, ${opts.blobs} blobs`);
  if (target.kind === 'sqlite') await generateSqlite(target.file, opts);
  else await generatePostgres(target.uri, opts);
  return opts;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const get = (n) => {
    const i = args.indexOf(`--${n}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const o = {};
  for (const k of Object.keys(DEFAULTS)) if (get(k)) o[k] = Number(get(k));
  const target = get('sqlite')
    ? { kind: 'sqlite', file: get('sqlite') }
    : get('postgres')
      ? { kind: 'postgres', uri: get('postgres') }
      : undefined;
  if (!target) {
    console.error('usage: node bench/scale-gen.mjs (--sqlite FILE | --postgres URI) [--orgs N --repos N --tags N --blobs N]');
    process.exit(2);
  }
  await generate(target, o);
}
