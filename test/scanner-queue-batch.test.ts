// The scanner queue's batches (src/scanner/queue.ts claimBatch, settle) on a real database: two handles on one
// database stand for two replicas (two pools on PostgreSQL, two connections on one SQLite file), each with several
// workers claiming batches at once; every job is claimed exactly once and its outcome recorded. PostgreSQL: a row
// another transaction has locked is skipped, not waited for. settle records a batch's outcomes together, only for
// jobs still leased to the caller, and a job handed back unstarted has its claim undone. The worker loops wait while
// pushes keep queueing jobs (src/scanner/worker.ts ScanJobs.quiet), at most a bounded time.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type OpenedDatabase } from '../src/db/database.ts';
import { ScanQueue, type ScanJob } from '../src/scanner/queue.ts';
import { ScanJobs } from '../src/scanner/worker.ts';
import { SILENT } from '../src/scanner/log.ts';
import { createPostgresDatabase, testDialects } from './helpers/databases.ts';

const digestOf = (prefix: string, i: number) => `sha256:${prefix}${String(i).padStart(63 - prefix.length, '0')}x`;

for (const dialect of await testDialects()) {
  describe(`scanner queue batches (${dialect})`, () => {
    let dir: string;
    let uri: string | undefined;
    let drop: (() => Promise<void>) | undefined;
    const handles: OpenedDatabase[] = [];
    const open = async () => {
      const h =
        dialect === 'postgres'
          ? await openDatabase({ kind: 'postgres', uri: uri!, maxConnections: 4 })
          : await openDatabase({ kind: 'sqlite', file: path.join(dir, 'berth.db') });
      handles.push(h);
      return h;
    };

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'berth-scanq-'));
      if (dialect === 'postgres') {
        const p = await createPostgresDatabase();
        uri = p.uri;
        drop = p.drop;
      }
    });
    after(async () => {
      for (const h of handles) await h.close();
      await drop?.();
      rmSync(dir, { recursive: true, force: true });
    });

    test('two replicas, four workers each, claiming batches at once: every job claimed and recorded exactly once', async () => {
      const a = await open();
      const b = await open();
      const qa = new ScanQueue(a.db, { dialect });
      const qb = new ScanQueue(b.db, { dialect });
      const n = 300;
      const all = Array.from({ length: n }, (_, i) => digestOf('a', i));
      for (const d of all) assert.equal(await qa.enqueue(d, 'acme/app'), true);
      const claims = new Map<string, string[]>();
      const perReplica = [0, 0];
      const worker = async (q: ScanQueue, replica: number, owner: string) => {
        let empty = 0;
        while (empty < 3) {
          const batch: ScanJob[] = await q.claimBatch(owner, 16);
          if (!batch.length) {
            empty++;
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          empty = 0;
          perReplica[replica] += batch.length;
          for (const j of batch) {
            assert.equal(j.state, 'indexing');
            assert.equal(j.attempts, 1, `${j.digest} claimed before`);
            claims.set(j.digest, [...(claims.get(j.digest) ?? []), owner]);
          }
          // A little work per job, so the workers' claims interleave.
          await new Promise((r) => setTimeout(r, batch.length));
          const recorded = await q.settle(
            owner,
            batch.map((j) => ({ digest: j.digest, state: 'indexed' as const })),
          );
          assert.deepEqual([...recorded].sort(), batch.map((j) => j.digest).sort(), 'every outcome of the batch counted');
        }
      };
      await Promise.all([...[0, 1, 2, 3].map((i) => worker(qa, 0, `a-${i}`)), ...[0, 1, 2, 3].map((i) => worker(qb, 1, `b-${i}`))]);
      assert.equal(claims.size, n, 'every job claimed');
      for (const [d, owners] of claims) assert.equal(owners.length, 1, `${d} claimed by ${owners.join(', ')}`);
      const rows = await a.db.selectFrom('scan_job').select(['manifest_digest', 'state', 'attempts', 'lease_owner']).execute();
      assert.equal(rows.length, n);
      for (const r of rows) {
        assert.equal(r.state, 'indexed', r.manifest_digest);
        assert.equal(Number(r.attempts), 1, r.manifest_digest);
        assert.equal(r.lease_owner, null);
      }
      assert.equal(perReplica[0] + perReplica[1], n);
      await a.db.deleteFrom('scan_job').execute();
    });

    test('settle records a batch together: done, unsupported, retry after backoff, handed back; a lease lost to another worker stays theirs', async () => {
      const h = handles[0] ?? (await open());
      let now = 1_000_000;
      const q = new ScanQueue(h.db, { dialect, leaseMs: 1000, backoffMs: () => 500, maxAttempts: 3, now: () => now });
      const [d0, d1, d2, d3] = [0, 1, 2, 3].map((i) => digestOf('b', i));
      for (const d of [d0, d1, d2, d3]) {
        assert.equal(await q.enqueue(d, 'acme/app'), true);
        now += 1;
      }
      const batch = await q.claimBatch('w1', 16);
      assert.deepEqual(
        batch.map((j) => j.digest),
        [d0, d1, d2, d3],
        'oldest first',
      );
      assert.deepEqual((await q.claimBatch('w2', 16)).length, 0, 'all held by w1');
      // w1's lease runs out; w2 takes d0 over (the other three are still w1's after a heartbeat).
      now += 600;
      await q.heartbeat([d1, d2, d3], 'w1');
      now += 500;
      const taken = await q.claimBatch('w2', 16);
      assert.deepEqual(
        taken.map((j) => [j.digest, j.attempts]),
        [[d0, 2]],
      );
      const recorded = await q.settle('w1', [
        { digest: d0, state: 'indexed' },
        { digest: d1, state: 'unsupported', note: 'not an image' },
        q.failure(d2, 1, 'layer 0: HTTP 500'),
        { digest: d3, state: 'queued', back: true },
      ]);
      assert.deepEqual([...recorded].sort(), [d1, d2, d3].sort());
      const j0 = await q.get(d0);
      assert.equal(j0?.state, 'indexing', "d0 stays w2's");
      assert.equal(j0?.attempts, 2);
      const j1 = await q.get(d1);
      assert.equal(j1?.state, 'unsupported');
      assert.equal(j1?.lastError, 'not an image');
      const j2 = await q.get(d2);
      assert.equal(j2?.state, 'queued');
      assert.equal(j2?.attempts, 1);
      assert.equal(j2?.nextAttemptAt, now + 500);
      assert.equal(j2?.lastError, 'layer 0: HTTP 500');
      const j3 = await q.get(d3);
      assert.equal(j3?.state, 'queued', 'handed back');
      assert.equal(j3?.attempts, 0, 'its claim undone');
      assert.equal(j3?.leaseUntil, null);
      // The handed-back job is claimable at once; the failed one after its backoff; a permanent failure is final.
      assert.deepEqual(
        (await q.claimBatch('w3', 16)).map((j) => [j.digest, j.attempts]),
        [[d3, 1]],
      );
      now += 500;
      assert.deepEqual(
        (await q.claimBatch('w3', 16)).map((j) => [j.digest, j.attempts]),
        [[d2, 2]],
      );
      assert.deepEqual([...(await q.settle('w3', [q.failure(d2, 2, 'corrupt layer', true)]))], [d2]);
      assert.equal((await q.get(d2))?.state, 'failed');
      await h.db.deleteFrom('scan_job').execute();
    });

    test('a row another transaction holds is skipped, not waited for', {
      skip: dialect !== 'postgres' && 'SQLite has one writer at a time: there is no row lock to skip',
    }, async () => {
      const h = handles[0] ?? (await open());
      const q = new ScanQueue(h.db, { dialect });
      const [d0, d1, d2] = [0, 1, 2].map((i) => digestOf('c', i));
      for (const d of [d0, d1, d2]) await q.enqueue(d, 'acme/app');
      const other = new pg.Client({ connectionString: uri });
      await other.connect();
      try {
        await other.query('begin');
        await other.query('select 1 from scan_job where manifest_digest = $1 for update', [d0]);
        const claim = q.claimBatch('w1', 16);
        const got = await Promise.race([claim, new Promise<'waited'>((r) => setTimeout(() => r('waited'), 3000))]);
        if (got === 'waited') {
          await other.query('rollback');
          await claim;
          assert.fail('the claim waited for the locked row');
        }
        assert.deepEqual(got.map((j) => j.digest).sort(), [d1, d2].sort());
        await other.query('rollback');
        assert.deepEqual(
          (await q.claimBatch('w1', 16)).map((j) => j.digest),
          [d0],
        );
      } finally {
        await other.end();
      }
      await h.db.deleteFrom('scan_job').execute();
    });
  });
}

describe('scanner workers wait while pushes keep queueing jobs', () => {
  test('quiet() resolves once no job was queued for the quiet time, or once the first waited the longest deferral; at once when caught up', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-scanq-quiet-'));
    const h = await openDatabase({ kind: 'sqlite', file: path.join(dir, 'berth.db') });
    try {
      const queue = new ScanQueue(h.db);
      const never = () => false;
      // (Timers on a busy machine fire late: the upper bounds leave room; the lower ones are what the wait guarantees.)
      // Nothing queued: no wait.
      const jobs = new ScanJobs(queue, { log: SILENT, observer: {}, quietMs: 150, maxDeferMs: 3000 });
      let t0 = performance.now();
      await jobs.quiet(never);
      assert.ok(performance.now() - t0 < 100, 'caught up: no wait');
      // A burst of 400 ms: the workers claim 150 ms after its last job (well before the 3-s bound).
      t0 = performance.now();
      jobs.queued();
      const burst = setInterval(() => jobs.queued(), 20);
      setTimeout(() => clearInterval(burst), 400);
      await jobs.quiet(never);
      const waited = performance.now() - t0;
      assert.ok(waited >= 500 && waited < 2000, `claimed ${waited.toFixed(0)} ms after the burst began`);
      // An endless stream: they claim once the first job waited the bound (600 ms here), then do not wait again until
      // caught up.
      const streamed = new ScanJobs(queue, { log: SILENT, observer: {}, quietMs: 150, maxDeferMs: 600 });
      t0 = performance.now();
      streamed.queued();
      const stream = setInterval(() => streamed.queued(), 20);
      try {
        await streamed.quiet(never);
        const deferred = performance.now() - t0;
        assert.ok(deferred >= 590 && deferred < 2500, `claimed after ${deferred.toFixed(0)} ms`);
        const t1 = performance.now();
        await streamed.quiet(never);
        assert.ok(performance.now() - t1 < 100, 'behind: no second wait');
      } finally {
        clearInterval(stream);
      }
      // Stopping ends the wait (which would last 5 s here).
      const stopped = new ScanJobs(queue, { log: SILENT, observer: {}, quietMs: 5000, maxDeferMs: 10_000 });
      stopped.queued();
      let stop = false;
      setTimeout(() => {
        stop = true;
        stopped.wake();
      }, 30);
      t0 = performance.now();
      await stopped.quiet(() => stop);
      assert.ok(performance.now() - t0 < 2000, 'stop ends the wait');
    } finally {
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
