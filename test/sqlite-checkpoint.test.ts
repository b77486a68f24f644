// SQLite checkpoints run on a worker thread (src/db/checkpointer.ts): the main connection's automatic checkpoint is
// off, the worker keeps the WAL bounded, the foreground fallback bounds it when the worker is gone, and a SIGKILL in
// the middle of commits and checkpoints loses nothing that was acknowledged.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { openDatabase } from '../src/db/database.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'berth-ckpt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite checkpoints on a worker thread', { timeout: 120_000 }, () => {
  test('many commits: the worker checkpoints, the WAL stays bounded, nothing checkpoints in the foreground', async () => {
    const file = path.join(dir, 'many.db');
    const triggerBytes = 256 * 1024;
    const limitBytes = 8 * 1024 * 1024;
    const database = await openDatabase({ kind: 'sqlite', file, checkpoint: { triggerBytes, limitBytes, intervalMs: 100 } });
    const { db } = database;
    const ck = database.checkpointer!;
    try {
      const sqlite = new SQLite(file);
      assert.equal(sqlite.pragma('wal_autocheckpoint', { simple: true }) as number, 1000, 'another connection keeps the default');
      sqlite.close();
      await sql`CREATE TABLE ck_many (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`.execute(db);
      // The worker thread is running before the burst: it starts a fresh isolate and loads better-sqlite3 (0.3 s at
      // load 30), and a burst that began meanwhile reached the limit first in 2 of 4 Node 22/24 runs and 1 of 8
      // Node 20 runs at load 26-38 (a foreground checkpoint); with this wait, 14 of 14 (Node 20, 22) at load 27-31.
      const startDeadline = Date.now() + 30_000;
      while (ck.checkpoints === 0 && Date.now() < startDeadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(ck.checkpoints > 0, 'the checkpoint thread started (its first checkpoint: the CREATE TABLE)');
      const before = ck.checkpoints;
      const body = Buffer.alloc(4000, 1);
      let maxWal = 0;
      // 3,000 commits of a page each: about 12 MiB of WAL frames without checkpoints.
      for (let i = 0; i < 3000; i++) {
        await sql`INSERT INTO ck_many (body) VALUES (${body})`.execute(db);
        if (i % 50 === 0) await database.durable();
        maxWal = Math.max(maxWal, statSync(`${file}-wal`).size);
        if (i % 100 === 0) await new Promise((r) => setImmediate(r));
      }
      await database.durable();
      const deadline = Date.now() + 10_000;
      while (ck.checkpoints === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(ck.checkpoints - before >= 3, `the worker checkpointed ${ck.checkpoints - before} times during the burst`);
      assert.equal(ck.foreground, 0, 'no checkpoint ran on the event loop');
      assert.ok(maxWal < limitBytes, `the WAL peaked at ${maxWal} bytes (limit ${limitBytes})`);
      assert.ok(maxWal < 12 * 1024 * 1024, 'far below the 12 MiB of frames written');
      const [{ n }] = (await sql<{ n: number }>`SELECT count(*) AS n FROM ck_many`.execute(db)).rows as [{ n: number }];
      assert.equal(n, 3000);
    } finally {
      await database.close();
    }
    assert.throws(() => statSync(`${file}-wal`), 'the last connection to close removes the WAL');
  });

  test('without the worker, the WAL bound is kept by a foreground checkpoint with a warning', async () => {
    const file = path.join(dir, 'fallback.db');
    const limitBytes = 2 * 1024 * 1024;
    const database = await openDatabase({ kind: 'sqlite', file, checkpoint: { triggerBytes: 512 * 1024, limitBytes, intervalMs: 60_000 } });
    const ck = database.checkpointer!;
    const warnings: string[] = [];
    (ck as unknown as { warn: (m: string) => void }).warn = (m) => warnings.push(m);
    try {
      await ck.stopWorker();
      const byWorker = ck.checkpoints;
      await sql`CREATE TABLE ck_fb (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`.execute(database.db);
      const body = Buffer.alloc(4000, 2);
      let maxWal = 0;
      for (let i = 0; i < 2000; i++) {
        await sql`INSERT INTO ck_fb (body) VALUES (${body})`.execute(database.db);
        maxWal = Math.max(maxWal, statSync(`${file}-wal`).size);
        // The foreground fallback runs at most once a second: give the clock room.
        if (i % 400 === 399) await new Promise((r) => setTimeout(r, 1000));
      }
      assert.ok(ck.foreground >= 1, 'checkpointed in the foreground');
      assert.match(warnings[0] ?? '', /WAL reached \d+ MiB .*foreground/);
      assert.ok(maxWal < 3 * limitBytes, `the WAL peaked at ${maxWal} bytes`);
      assert.equal(ck.checkpoints, byWorker, 'the stopped worker did none');
    } finally {
      await database.close();
    }
  });

  test('SIGKILL during commits and worker checkpoints: every acknowledged row is there after restart', async () => {
    const file = path.join(dir, 'kill.db');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'helpers/checkpoint-child.ts'), file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked = new Set<number>();
    let checkpoints = 0;
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, sig) => r(sig)));
    for await (const line of createInterface({ input: child.stdout })) {
      const [kind, a] = line.split(' ');
      if (kind === 'ack') acked.add(Number(a));
      if (kind === 'ckpt') checkpoints = Number(a);
      if (acked.size >= 3000 && checkpoints >= 5) {
        child.kill('SIGKILL');
        break;
      }
    }
    assert.equal(await exited, 'SIGKILL');
    assert.ok(checkpoints >= 5, `the worker checkpointed ${checkpoints} times before the kill`);
    const sqlite = new SQLite(file);
    try {
      const ids = new Set((sqlite.prepare('SELECT id FROM ck_rows').pluck().all() as number[]).map(Number));
      const missing = [...acked].filter((id) => !ids.has(id));
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${acked.size} acknowledged rows are missing`);
      assert.equal(sqlite.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      sqlite.close();
    }
  });

  test('a transaction that reads, then writes, waits for a checkpoint holding the writer lock instead of failing', async () => {
    // A TRUNCATE checkpoint on the worker's connection holds the writer lock while it copies the log. Another
    // connection taking that lock for 300 ms stands in for it. Before transactions began IMMEDIATE, the write
    // below failed at once with SQLITE_BUSY (SQLite does not wait on a lock upgrade): a 500 to a tag PUT.
    const file = path.join(dir, 'upgrade.db');
    const database = await openDatabase({ kind: 'sqlite', file });
    const { db } = database;
    try {
      await sql`CREATE TABLE ck_upgrade (id INTEGER PRIMARY KEY, who TEXT NOT NULL)`.execute(db);
      await database.durable();
      const holder = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         const SQLite = require(workerData.module);
         const other = new SQLite(workerData.file);
         other.exec("BEGIN IMMEDIATE; INSERT INTO ck_upgrade (who) VALUES ('holder')");
         parentPort.postMessage('locked');
         setTimeout(() => { other.exec('COMMIT'); other.close(); parentPort.postMessage('released'); }, 300);`,
        { eval: true, workerData: { file, module: createRequire(import.meta.url).resolve('better-sqlite3') } },
      );
      const messages: string[] = [];
      holder.on('message', (m: string) => messages.push(m));
      await once(holder, 'message');
      const t0 = performance.now();
      await db.transaction().execute(async (trx) => {
        await sql`SELECT count(*) AS n FROM ck_upgrade`.execute(trx);
        await sql`INSERT INTO ck_upgrade (who) VALUES ('berth')`.execute(trx);
      });
      const waited = performance.now() - t0;
      await once(holder, 'exit');
      assert.deepEqual(messages, ['locked', 'released']);
      assert.ok(waited >= 200, `the transaction waited for the lock (${waited.toFixed(0)} ms)`);
      const rows = (await sql<{ who: string }>`SELECT who FROM ck_upgrade ORDER BY id`.execute(db)).rows;
      assert.deepEqual(
        rows.map((r) => r.who),
        ['holder', 'berth'],
        'both writes are there, in lock order',
      );
    } finally {
      await database.close();
    }
  });
});
