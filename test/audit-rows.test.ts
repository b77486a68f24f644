// The rows the audit log writes, byte for byte: a pull queued by the hook's fast path (AuditLog.recordPull, its row
// built at flush time) is the same row as the pull_repo entry record() writes (Quay's metadata, in Quay's key order);
// a flush of any length keeps every entry once and in order (SQLite: statements of 500, 100, 20, 5 and 1 rows;
// PostgreSQL: statements of up to 2000 rows as one jsonb value; in one transaction); every column is stored as given
// (quotes, backslashes, control characters, a lone surrogate as each client encodes it; on PostgreSQL a NUL as
// U+FFFD instead of failing every flush); a flush that fails writes none of its entries and keeps all of them; the last entries are written
// on close. SQLite and PostgreSQL, real servers.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createPostgresDatabase, testDialects, type TestDialect } from './helpers/databases.ts';
import { startServer } from './helpers/server.ts';
import { openDatabase, type DB } from '../src/db/database.ts';
import { AuditLog, performerOf, type AuditEntry } from '../src/services/audit/log.ts';
import type { Principal } from '../src/services/principal.ts';

const COLUMNS = ['kind', 'namespace', 'repository', 'performer_kind', 'performer', 'ip', 'metadata', 'created_at'] as const;
const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function withDatabase(dialect: TestDialect, fn: (db: DB) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-audit-rows-'));
  const pg = dialect === 'postgres' ? await createPostgresDatabase() : undefined;
  const opened = await openDatabase(
    pg ? { kind: 'postgres', uri: pg.uri, maxConnections: 4 } : { kind: 'sqlite', file: path.join(dir, 'berth.db') },
  );
  try {
    await fn(opened.db);
  } finally {
    await opened.close();
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rows(db: DB) {
  return (
    await db
      .selectFrom('audit_log')
      .select(['id', ...COLUMNS])
      .orderBy('id')
      .execute()
  ).map((r) => ({
    ...r,
    id: Number(r.id),
    created_at: Number(r.created_at),
  }));
}

/** A log that only the test flushes (its timer a minute off, no retention), its warnings collected. */
function manualLog(db: DB, dialect: TestDialect, batchSize: number, now?: () => number) {
  const warnings: object[] = [];
  const log = new AuditLog(db, {
    dialect,
    enabled: true,
    flushMs: 60_000,
    batchSize,
    retentionDays: 0,
    ...(now ? { now } : {}),
    log: { warn: (o) => warnings.push(o) },
  });
  return { log, warnings };
}

const USER: Principal = { kind: 'user', id: 7, name: 'alice', superuser: false, ownerId: null };
const ROBOT: Principal = { kind: 'robot', id: 8, name: 'acme+deployer', superuser: false, ownerId: 3 };

/** A pull_repo entry exactly as the hook built it before the fast path (registryEntry + the generic loop). */
function oldPullEntry(name: string, ref: string, useragent: string | null, p: Principal | undefined, ip: string | null): AuditEntry {
  const i = name.indexOf('/');
  const isDigest = ref.includes(':');
  const base = {
    repo: i >= 0 ? name.slice(i + 1) : name,
    namespace: i >= 0 ? name.slice(0, i) : name,
    ...(isDigest ? { manifest_digest: ref } : { tag: ref }),
  };
  return { kind: 'pull_repo', repository: name, metadata: { ...base, useragent }, performer: performerOf(p), ip };
}

const CASES: [string, string, string | null, Principal | undefined, string | null][] = [
  ['acme/app', 'latest', 'docker/24.0.7 go/go1.20.10', undefined, '127.0.0.1'],
  ['acme/app', `sha256:${'ab'.repeat(32)}`, 'containerd/1.7', USER, '10.0.0.9'],
  ['acme/team/nested/app', 'v1.2.3', null, ROBOT, '::1'],
  ['single', 'v1', 'skopeo "quoted" \\ back\\slash ünïcode', { kind: 'anonymous' }, null],
  ['acme/app', 'sha512:00ff', '', USER, '192.0.2.1'],
];

for (const dialect of await testDialects()) {
  describe(`audit rows (${dialect})`, () => {
    test('a pull queued by recordPull is written as the same row as record() writes for it', async () => {
      await withDatabase(dialect, async (db) => {
        let t = 1_765_000_000_000;
        const log = new AuditLog(db, { dialect, enabled: true, flushMs: 60_000, batchSize: 10_000, retentionDays: 0, now: () => t });
        for (const [name, ref, ua, p, ip] of CASES) {
          log.record(oldPullEntry(name, ref, ua, p, ip));
          log.recordPull(name, ref, ua, p, ip);
          t += 1000;
        }
        await log.close();
        const written = await rows(db);
        assert.equal(written.length, CASES.length * 2);
        for (let i = 0; i < written.length; i += 2) {
          const { id: _a, ...before } = written[i];
          const { id: _b, ...after } = written[i + 1];
          assert.deepEqual(after, before, `case ${i / 2}`);
        }
        // And what that row is (Quay's keys in Quay's order), spelled out for the first two cases.
        assert.deepEqual(
          written.slice(0, 3).map(({ id: _, ...r }) => r),
          [
            {
              kind: 'pull_repo',
              namespace: 'acme',
              repository: 'acme/app',
              performer_kind: 'anonymous',
              performer: null,
              ip: '127.0.0.1',
              metadata: '{"repo":"app","namespace":"acme","tag":"latest","useragent":"docker/24.0.7 go/go1.20.10"}',
              created_at: 1_765_000_000_000,
            },
            {
              kind: 'pull_repo',
              namespace: 'acme',
              repository: 'acme/app',
              performer_kind: 'anonymous',
              performer: null,
              ip: '127.0.0.1',
              metadata: '{"repo":"app","namespace":"acme","tag":"latest","useragent":"docker/24.0.7 go/go1.20.10"}',
              created_at: 1_765_000_000_000,
            },
            {
              kind: 'pull_repo',
              namespace: 'acme',
              repository: 'acme/app',
              performer_kind: 'user',
              performer: 'alice',
              ip: '10.0.0.9',
              metadata: `{"repo":"app","namespace":"acme","manifest_digest":"sha256:${'ab'.repeat(32)}","useragent":"containerd/1.7"}`,
              created_at: 1_765_000_001_000,
            },
          ],
        );
      });
    });

    test('a flush of any length writes every entry once, in the order recorded', async () => {
      await withDatabase(dialect, async (db) => {
        const log = new AuditLog(db, { dialect, enabled: true, flushMs: 60_000, batchSize: 100_000, retentionDays: 0, now: () => 5 });
        // 1234 = 2×500 + 2×100 + 1×20 + 2×5 + 4×1; then lengths around each statement size.
        let n = 0;
        for (const len of [1234, 1, 4, 5, 6, 19, 20, 21, 99, 100, 101, 499, 500, 501, 4321]) {
          for (let i = 0; i < len; i++, n++) {
            if (n % 3) log.recordPull('acme/app', `t${n}`, 'ua', USER, '127.0.0.1');
            else log.record({ kind: 'push_repo', repository: 'acme/app', performer: { kind: 'anonymous' }, metadata: { tag: `t${n}` } });
          }
          await log.flush();
          const written = await rows(db);
          assert.equal(written.length, n, `after a flush of ${len}`);
        }
        const tags = (await rows(db)).map((r) => (JSON.parse(r.metadata) as { tag: string }).tag);
        assert.deepEqual(
          tags,
          Array.from({ length: n }, (_, i) => `t${i}`),
        );
        await log.close();
      });
    });

    test('every column is stored as given, whatever the characters (one jsonb parameter on PostgreSQL)', async () => {
      await withDatabase(dialect, async (db) => {
        const log = new AuditLog(db, { dialect, enabled: true, flushMs: 60_000, batchSize: 10_000, retentionDays: 0, now: () => 7 });
        const odd = 'q"uo\\te\\"d \\u00e9 \\ud800 \t\n\r\u0001\u001f é ü 𝄞 \u2028\u2029 null [0] {"a":1} -- \'; drop';
        log.record({
          kind: 'create_robot',
          namespace: odd,
          repository: `${odd}/r`,
          performer: { kind: 'robot', name: odd },
          ip: odd,
          metadata: { robot: odd, n: 1.5, nested: { odd } },
          at: 2 ** 52,
        });
        // A lone surrogate (half of a UTF-16 pair) is stored as the database client encodes it: pg as U+FFFD,
        // better-sqlite3 as its three bytes (read back as three U+FFFD).
        const bad = dialect === 'postgres' ? '\ufffd' : '\ufffd\ufffd\ufffd';
        log.record({
          kind: 'create_robot',
          namespace: 'a\ud800b',
          repository: null,
          performer: { kind: 'user', name: 'x\udc00' },
          ip: null,
          metadata: { s: '\ud83d' },
        });
        log.recordPull('acme/app', 'v1', 'agent \ud800 "q" \\', USER, null);
        await log.close();
        const written = (await rows(db)).map(({ id: _, ...r }) => r);
        assert.deepEqual(written, [
          {
            kind: 'create_robot',
            namespace: odd,
            repository: `${odd}/r`,
            performer_kind: 'robot',
            performer: odd,
            ip: odd,
            metadata: JSON.stringify({ robot: odd, n: 1.5, nested: { odd } }),
            created_at: 2 ** 52,
          },
          {
            kind: 'create_robot',
            namespace: `a${bad}b`,
            repository: null,
            performer_kind: 'user',
            performer: `x${bad}`,
            ip: null,
            metadata: '{"s":"\\ud83d"}',
            created_at: 7,
          },
          {
            kind: 'pull_repo',
            namespace: 'acme',
            repository: 'acme/app',
            performer_kind: 'user',
            performer: 'alice',
            ip: null,
            metadata: '{"repo":"app","namespace":"acme","tag":"v1","useragent":"agent \\ud800 \\"q\\" \\\\"}',
            created_at: 7,
          },
        ]);
      });
    });

    test('a NUL in a column does not stop the log on PostgreSQL (written as U+FFFD there; SQLite keeps it)', async () => {
      await withDatabase(dialect, async (db) => {
        const { log, warnings } = manualLog(db, dialect, 10_000, () => 9);
        // As the hook records a refused sign-in: the attempted user name, as sent.
        log.record({
          kind: 'login_failure',
          namespace: 'a\0b',
          performer: { kind: 'anonymous' },
          ip: '192.0.2.7',
          metadata: { type: 'quayauth', username: 'a\0b', useragent: null, status: 403 },
        });
        log.recordPull('acme/app', 'v1', 'ua', USER, '192.0.2.7');
        await log.flush();
        assert.deepEqual(warnings, []);
        const written = (await rows(db)).map((r) => [r.kind, r.namespace, r.metadata]);
        assert.deepEqual(written, [
          [
            'login_failure',
            dialect === 'postgres' ? 'a\ufffdb' : 'a\0b',
            '{"type":"quayauth","username":"a\\u0000b","useragent":null,"status":403}',
          ],
          ['pull_repo', 'acme', '{"repo":"app","namespace":"acme","tag":"v1","useragent":"ua"}'],
        ]);
        await log.close();
      });
    });

    test('a flush that fails writes none of its entries and keeps them all', async () => {
      await withDatabase(dialect, async (db) => {
        const { log, warnings } = manualLog(db, dialect, 100_000);
        for (let i = 0; i < 2600; i++) log.recordPull('acme/app', `t${i}`, null, undefined, null);
        // kind is NOT NULL: the last entry fails the flush, after the first statements went in (SQLite: five of
        // 500 rows; PostgreSQL: one of 2000).
        log.record({ kind: null as unknown as 'pull_repo', repository: 'acme/app', performer: { kind: 'anonymous' } });
        await log.flush();
        assert.equal(warnings.length, 1);
        assert.equal((warnings[0] as { pending: number }).pending, 2601);
        assert.equal((await rows(db)).length, 0, 'no entry of the failed flush is in the database');
        await log.close();
        assert.equal((await rows(db)).length, 0);
      });
    });
  });

  describe(`audit rows through the server (${dialect})`, () => {
    test('pulls by tag and by digest write the rows of the pull_repo kind, and the buffer reaches the database on close', async () => {
      const s = await startServer(dialect, {}, { config: { AUDIT_LOG_FLUSH_MS: 60_000, AUDIT_LOG_BATCH_SIZE: 2000 } });
      try {
        const config = Buffer.from('{}');
        assert.equal(
          (await fetch(`${s.url}/v2/open/app/blobs/uploads/?digest=${sha(config)}`, { method: 'POST', body: config })).status,
          201,
        );
        const manifest = JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: 2 },
          layers: [],
        });
        const put = await fetch(`${s.url}/v2/open/app/manifests/v1`, {
          method: 'PUT',
          body: manifest,
          headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        });
        assert.equal(put.status, 201);
        const long = `agent/${'x'.repeat(300)}`;
        for (const [ref, ua] of [
          ['v1', 'docker/24.0.7'],
          [sha(manifest), long],
        ] as const) {
          const r = await fetch(`${s.url}/v2/open/app/manifests/${ref}`, { headers: { 'user-agent': ua } });
          assert.equal(r.status, 200);
          await r.arrayBuffer();
        }
        // A failed pull writes nothing.
        assert.equal((await fetch(`${s.url}/v2/open/app/manifests/nope`)).status, 404);
        const db = s.berth.ctx.db;
        assert.equal((await rows(db)).length, 0, 'still buffered (AUDIT_LOG_FLUSH_MS is a minute)');
        await s.berth.audit.log.close();
        const written = (await rows(db)).map(({ id: _, created_at, ...r }) => ({
          ...r,
          recent: Math.abs(created_at - Date.now()) < 60_000,
        }));
        const pull = (metadata: string) => ({
          kind: 'pull_repo',
          namespace: 'open',
          repository: 'open/app',
          performer_kind: 'anonymous',
          performer: null,
          ip: '127.0.0.1',
          metadata,
          recent: true,
        });
        assert.deepEqual(written.slice(1), [
          pull('{"repo":"app","namespace":"open","tag":"v1","useragent":"docker/24.0.7"}'),
          pull(`{"repo":"app","namespace":"open","manifest_digest":"${sha(manifest)}","useragent":"${long.slice(0, 200)}"}`),
        ]);
        assert.equal(written[0].kind, 'push_repo');
      } finally {
        await s.stop();
      }
    });
  });
}
