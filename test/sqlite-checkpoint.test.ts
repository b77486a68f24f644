// SQLite checkpoints run in the background on connections of their own, their syncs on the thread pool
// (src/db/checkpointer.ts): the main connection's automatic checkpoint is off, the background checkpoints keep the WAL
// bounded (emptying it under a writer that never pauses), the foreground fallback bounds it when they are stopped, a
// SIGKILL in the middle of commits and checkpoints loses nothing that was acknowledged, and no thread is started.
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

describe('SQLite checkpoints in the background', { timeout: 120_000 }, () => {
  test('many commits: background checkpoints keep the WAL bounded, nothing checkpoints in the foreground', async () => {
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
      // The first checkpoint (the CREATE TABLE's, from the 100 ms timer) before the burst.
      const startDeadline = Date.now() + 30_000;
      while (ck.checkpoints === 0 && Date.now() < startDeadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(ck.checkpoints > 0, 'the background checkpoints run (the first: the CREATE TABLE)');
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
      assert.ok(ck.checkpoints - before >= 3, `${ck.checkpoints - before} background checkpoints during the burst`);
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

  test('writers that never pause: the log is emptied at half the limit, no thread is started', async () => {
    // Each writer acknowledges its row after durable(), as a request does, so some commit is always in flight and
    // the log never starts over by itself: only the exclusive checkpoint at half the limit empties it. No worker
    // thread: the checkpoints are the event loop's (a Node worker costs 8-10 MiB resident, docs/PERFORMANCE.md).
    const workers: unknown[] = [];
    const onWorker = (w: unknown) => workers.push(w);
    process.on('worker', onWorker);
    const file = path.join(dir, 'busy.db');
    const limitBytes = 4 * 1024 * 1024;
    const database = await openDatabase({ kind: 'sqlite', file, checkpoint: { triggerBytes: 128 * 1024, limitBytes, intervalMs: 100 } });
    const { db } = database;
    const ck = database.checkpointer!;
    try {
      await sql`CREATE TABLE ck_busy (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`.execute(db);
      const body = Buffer.alloc(4000, 3);
      let maxWal = 0;
      let next = 0;
      // 8 writers, 2,400 commits of a page each: about 10 MiB of frames, 2.4 times the limit.
      const writer = async () => {
        while (next < 2400) {
          next++;
          await sql`INSERT INTO ck_busy (body) VALUES (${body})`.execute(db);
          await database.durable();
          maxWal = Math.max(maxWal, statSync(`${file}-wal`).size);
        }
      };
      await Promise.all(Array.from({ length: 8 }, writer));
      assert.ok(ck.truncations >= 1, `the log was emptied ${ck.truncations} times (${ck.checkpoints} checkpoints)`);
      assert.equal(ck.foreground, 0, 'no checkpoint ran on the event loop');
      assert.ok(maxWal < limitBytes, `the WAL peaked at ${maxWal} bytes (limit ${limitBytes})`);
      const [{ n }] = (await sql<{ n: number }>`SELECT count(*) AS n FROM ck_busy`.execute(db)).rows as [{ n: number }];
      assert.equal(n, 2400);
      assert.equal(workers.length, 0, 'no worker thread was started');
    } finally {
      process.off('worker', onWorker);
      await database.close();
    }
  });

  test('without background checkpoints, the WAL bound is kept by a foreground checkpoint with a warning', async () => {
    const file = path.join(dir, 'fallback.db');
    const limitBytes = 2 * 1024 * 1024;
    const database = await openDatabase({ kind: 'sqlite', file, checkpoint: { triggerBytes: 512 * 1024, limitBytes, intervalMs: 60_000 } });
    const ck = database.checkpointer!;
    const warnings: string[] = [];
    (ck as unknown as { warn: (m: string) => void }).warn = (m) => warnings.push(m);
    try {
      await ck.stopBackground();
      const inBackground = ck.checkpoints;
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
      assert.equal(ck.checkpoints, inBackground, 'the stopped background checkpoints did none');
    } finally {
      await database.close();
    }
  });

  test('SIGKILL during commits and background checkpoints: every acknowledged row is there after restart', async () => {
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
    assert.ok(checkpoints >= 5, `${checkpoints} background checkpoints before the kill`);
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
    // Another connection holding the writer lock (an operator's sqlite3 shell; before 2026-12, the checkpoint
    // thread's TRUNCATE), here for 300 ms. Before transactions began IMMEDIATE, the write
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
