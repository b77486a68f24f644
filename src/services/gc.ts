// Garbage collection: drops expired uploads, unreferenced blob links and the bytes nothing uses.
// Candidate-driven: a pass examines only what may have become garbage since the last one (gc_candidate, written
// where a reference goes away: gc-candidates.ts), plus a slice of the rare safety-net sweep (gc-sweep.ts), so its
// cost follows the changes, not the size of the registry. Safe beside live pushes: anything touched within the
// grace period is kept, and a row is deleted in the same transaction that re-checks it is unused (see
// UploadService.commit). A candidate is deleted only after it was handled: a pass that dies leaves it for the next.
import { type Expression, expressionBuilder, sql } from 'kysely';
import type { DB } from '../db/database.js';
import type { Database } from '../db/types.js';
import type { GcCandidateKind } from '../db/types-gc.js';
import { blobUnreferenced, linkUnreferenced, manifestUntagged } from './blob-links.js';
import type { ServiceContext } from './context.js';
import { recordHistoryPruned, recordManifestDeleted } from './gc-candidates.js';
import { type SweepFound, type SweepState, saveSweep, sweepRows, sweepToRun } from './gc-sweep.js';
import { namespaceOfRepository } from './quota/namespace.js';
import { pruneHistory } from './tag-history.js';

export interface GcOptions {
  /** Also delete manifests that no tag and no index reference (and that are not referrers of a kept manifest). */
  deleteUntagged?: boolean;
  /** Report what would go, change nothing. */
  dryRun?: boolean;
  graceSeconds?: number;
  /** Run a complete safety-net sweep in this pass (berth gc --sweep), whatever GC_SWEEP_INTERVAL_SECONDS says. */
  sweep?: boolean;
  /** Called as the pass goes (the CLI draws it on a terminal). */
  onProgress?(p: GcProgress): void;
}

export interface GcProgress {
  phase: 'uploads' | 'sweep' | 'manifests' | 'links' | 'blobs' | 'stray files';
  done: number;
  total?: number;
  /** Bytes freed so far. */
  bytes: number;
}

export interface GcReport {
  uploadsRemoved: number;
  manifestsRemoved: number;
  /** Tag history rows older than DEFAULT_TAG_EXPIRATION. */
  historyPruned: number;
  linksRemoved: number;
  blobsRemoved: number;
  bytesFreed: number;
  strayFilesRemoved: number;
  /** Candidates examined (gc_candidate rows, and what this pass's sweep found). */
  candidatesExamined: number;
  /** Database rows the safety-net sweep read in this pass (0: none due or in progress). */
  sweptRows: number;
}

export async function collectGarbage(ctx: ServiceContext, opts: GcOptions = {}): Promise<GcReport> {
  const startedAt = performance.now();
  const done = (report: GcReport, failed: boolean) =>
    ctx.observer?.gcFinished?.({
      ...report,
      seconds: (performance.now() - startedAt) / 1000,
      dryRun: !!opts.dryRun,
      failed,
    });
  const report: GcReport = {
    uploadsRemoved: 0,
    manifestsRemoved: 0,
    historyPruned: 0,
    linksRemoved: 0,
    blobsRemoved: 0,
    bytesFreed: 0,
    strayFilesRemoved: 0,
    candidatesExamined: 0,
    sweptRows: 0,
  };
  try {
    await collect(ctx, opts, report);
  } catch (e) {
    done(report, true);
    throw e;
  }
  done(report, false);
  return report;
}

async function collect(ctx: ServiceContext, opts: GcOptions, report: GcReport): Promise<void> {
  const now = ctx.now();
  const pass: Pass = {
    ctx,
    opts,
    report,
    now,
    cutoff: now - (opts.graceSeconds ?? ctx.config.gcGraceSeconds) * 1000,
    historyCutoff: now - ctx.config.tagHistorySeconds * 1000,
    tick: (phase, done, total) => opts.onProgress?.({ phase, done, total, bytes: report.bytesFreed }),
    dry: { manifestsGone: new Set(), linksGone: new Set(), queue: [] },
    manifestsGone: [],
    repositoriesChanged: new Set(),
  };
  await removeUploads(pass);
  report.historyPruned = await pruneTagHistory(pass);
  const sweep = await sweepDatabase(pass);
  if (opts.deleteUntagged) await examineCandidates(pass, 'manifest');
  await examineCandidates(pass, 'blob');
  if (opts.dryRun) await examineDryQueue(pass);
  if (sweep?.phase === 'files') {
    await removeStrayFiles(pass);
    if (!opts.dryRun) await saveSweep(ctx.db, { ...sweep, phase: 'done', cursor: null }, now);
  }
  await afterManifestsRemoved(pass);
}

/** One gc pass's settings and running totals, handed to each step. */
interface Pass {
  ctx: ServiceContext;
  opts: GcOptions;
  report: GcReport;
  now: number;
  /** Anything touched after this (ms) is within the grace period and kept. */
  cutoff: number;
  /** Tag history that ended before this (ms) is out of the time-machine window. */
  historyCutoff: number;
  tick(phase: GcProgress['phase'], done: number, total?: number): void;
  /** A dry run changes nothing: what would go, and the candidates that would follow from it, are kept here. */
  dry: { manifestsGone: Set<number>; linksGone: Set<string>; queue: SweepFound[] };
  /** Digests of the manifests removed (the scanner forgets them). */
  manifestsGone: string[];
  /** Repositories that lost a manifest (their namespaces' quota usage is recounted). */
  repositoriesChanged: Set<number>;
}

/**
 * Each item in its own transaction. On PostgreSQL (read committed) `lock` first takes the row, so a push that
 * holds it commits before the re-check in `remove`, which then runs on a new snapshot that sees that push's
 * references; SQLite has one writer at a time. `remove` deletes the row only if still unreferenced and says
 * whether it did; what else must go with the row (the bytes, the candidates it leaves) goes in the same transaction.
 */
async function removeOne(
  pass: Pass,
  lock: ((tx: DB) => Promise<unknown>) | undefined,
  remove: (tx: DB) => Promise<boolean>,
): Promise<boolean> {
  const { ctx } = pass;
  return ctx.db.transaction().execute(async (tx) => {
    if (ctx.dialect === 'postgres' && lock) await lock(tx);
    return remove(tx);
  });
}

/**
 * 1. Upload sessions nobody touched for UPLOAD_EXPIRY_SECONDS, and upload files with no session.
 * Files are listed before rows are read: a new upload writes its row before its file, so any listed file of a
 * live session has a row by the time the rows are read.
 */
async function removeUploads(pass: Pass): Promise<void> {
  const { ctx, opts, report, now } = pass;
  const { db, store } = ctx;
  const idleBefore = now - ctx.config.uploadExpirySeconds * 1000;
  const uploadFiles = await store.listUploads();
  const expired = await db.selectFrom('upload').select('id').where('updated_at', '<', idleBefore).execute();
  const sessions = new Set((await db.selectFrom('upload').select('id').execute()).map((r) => r.id));
  for (const { id } of expired) {
    report.uploadsRemoved++;
    pass.tick('uploads', report.uploadsRemoved, expired.length);
    if (opts.dryRun) continue;
    await db.deleteFrom('upload').where('id', '=', id).execute();
    await store.deleteUpload(id);
  }
  // Files with no row belong to single-request uploads (POST ?digest=), which keep no session, or to a crash.
  // The grace period does not apply to them (it may be 0): like a session, one goes only once idle for
  // UPLOAD_EXPIRY_SECONDS, and never while this process is still writing or storing it.
  for (const id of uploadFiles) {
    if (sessions.has(id) || opts.dryRun || store.uploadInUse?.(id)) continue;
    const mtime = await store.uploadModifiedAt(id);
    if (mtime !== null && mtime < idleBefore) await store.deleteUpload(id);
  }
}

/**
 * 2a. Tag history that ended before the time-machine window (DEFAULT_TAG_EXPIRATION), and tags that expired
 * before it: the manifests they kept become candidates, in the transaction that prunes them.
 */
async function pruneTagHistory({ ctx, opts, historyCutoff, now }: Pass): Promise<number> {
  if (!opts.dryRun)
    return ctx.db.transaction().execute(async (tx) => {
      await recordHistoryPruned(tx, historyCutoff, now);
      return pruneHistory(tx, historyCutoff);
    });
  const r = await ctx.db
    .selectFrom('tag_history')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('end_ts', '<', historyCutoff)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/**
 * 2b. A slice of the safety-net sweep when one is due (gc-sweep.ts): what it finds becomes a candidate (a dry run:
 * kept in memory). Returns the sweep's state after this pass (phase 'files': the stored files are next).
 */
async function sweepDatabase(pass: Pass): Promise<SweepState | undefined> {
  const { ctx, opts, report, now, historyCutoff } = pass;
  const start = await sweepToRun(ctx.db, now, ctx.config.gcSweepIntervalSeconds, !!opts.sweep);
  if (!start) return undefined;
  const rows = opts.sweep ? Number.POSITIVE_INFINITY : ctx.config.gcSweepRows;
  let read = 0;
  const end = await sweepRows(ctx.db, start, { rows, manifests: !!opts.deleteUntagged, historyCutoff }, async (found, next, pageRows) => {
    read += pageRows;
    pass.tick('sweep', read);
    if (opts.dryRun) {
      pass.dry.queue.push(...found);
      return;
    }
    await ctx.db.transaction().execute(async (tx) => {
      if (found.length)
        await tx
          .insertInto('gc_candidate')
          .values(found.map((f) => ({ ...f, created_at: now })))
          .execute();
      await saveSweep(tx, next, now);
    });
  });
  report.sweptRows = read;
  return end;
}

interface Candidate {
  ids: number[];
  repositoryId: number;
  digest: string;
}

/**
 * 3. The candidates of one kind, in keyset pages by id (candidates this pass adds come after and are examined
 * too). Each is settled (garbage removed, or found in use: a later change that frees it records it again) or
 * kept for a later pass (within the grace period). Settled candidates are deleted by id after their page, so a
 * pass that dies leaves them to be examined again, and a candidate written meanwhile by a push is never lost.
 */
async function examineCandidates(pass: Pass, kind: GcCandidateKind): Promise<void> {
  const { ctx, opts } = pass;
  let last = 0;
  for (;;) {
    const rows = await ctx.db
      .selectFrom('gc_candidate')
      .select(['id', 'repository_id', 'digest'])
      .where('kind', '=', kind)
      .where('id', '>', last)
      .orderBy('id')
      .limit(500)
      .execute();
    if (!rows.length) return;
    last = Number(rows[rows.length - 1].id);
    const byKey = new Map<string, Candidate>();
    for (const r of rows) {
      const key = `${r.repository_id} ${r.digest}`;
      const c = byKey.get(key) ?? { ids: [], repositoryId: Number(r.repository_id), digest: r.digest };
      c.ids.push(Number(r.id));
      byKey.set(key, c);
    }
    const settled: number[] = [];
    for (const c of byKey.values()) {
      pass.report.candidatesExamined++;
      const done = kind === 'manifest' ? await examineManifest(pass, c) : await examineBlob(pass, c);
      if (done) settled.push(...c.ids);
    }
    if (settled.length && !opts.dryRun) await ctx.db.deleteFrom('gc_candidate').where('id', 'in', settled).execute();
  }
}

/** A dry run: what this pass's sweep found and what would follow from what would go, examined in memory. */
async function examineDryQueue(pass: Pass): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < pass.dry.queue.length; i++) {
    const f = pass.dry.queue[i];
    if (f.kind === 'manifest' && !pass.opts.deleteUntagged) continue;
    const key = `${f.kind} ${f.repository_id} ${f.digest}`;
    if (seen.has(key)) continue;
    seen.add(key);
    pass.report.candidatesExamined++;
    const c = { ids: [], repositoryId: f.repository_id, digest: f.digest };
    if (f.kind === 'manifest') await examineManifest(pass, c);
    else await examineBlob(pass, c);
  }
}

const gcEb = expressionBuilder<Database, never>();
/** No tag points at the manifest. */
const untagged = (id: Expression<number>) =>
  gcEb.not(gcEb.exists(gcEb.selectFrom('tag').select('tag.manifest_id').where('tag.manifest_id', '=', id)));

/**
 * A manifest candidate (`--delete-untagged`): removed when not tagged, not in the tag history window
 * (restorable), not in an index, not a referrer of a kept manifest, past the grace period. Removing it makes what
 * it named, and its referrers, candidates in the same transaction. Settled unless within the grace period: what
 * keeps it (a tag, history, an index, a subject) records it again when it goes.
 */
async function examineManifest(pass: Pass, c: Candidate): Promise<boolean> {
  const { ctx, opts, report, cutoff, historyCutoff, now, dry } = pass;
  const m = await ctx.db
    .selectFrom('manifest as m')
    .select(['m.id', 'm.created_at'])
    .select((eb) =>
      sql<number>`case when ${eb.and([
        manifestUntagged(eb.ref('m.id'), eb.ref('m.repository_id'), eb.ref('m.digest'), historyCutoff),
        eb.not(
          eb.exists(
            eb
              .selectFrom('manifest_ref as r')
              .innerJoin('manifest as p', 'p.id', 'r.manifest_id')
              .select('r.digest')
              .whereRef('r.digest', '=', 'm.digest')
              .whereRef('p.repository_id', '=', 'm.repository_id')
              .where('r.kind', '=', 'manifest')
              .$if(opts.dryRun === true && dry.manifestsGone.size > 0, (q) => q.where('p.id', 'not in', [...dry.manifestsGone])),
          ),
        ),
        eb.not(
          eb.exists(
            eb
              .selectFrom('manifest as s')
              .select('s.id')
              .whereRef('s.digest', '=', 'm.subject_digest')
              .whereRef('s.repository_id', '=', 'm.repository_id')
              .$if(opts.dryRun === true && dry.manifestsGone.size > 0, (q) => q.where('s.id', 'not in', [...dry.manifestsGone])),
          ),
        ),
      ])} then 1 else 0 end`.as('loose'),
    )
    .where('m.repository_id', '=', c.repositoryId)
    .where('m.digest', '=', c.digest)
    .executeTakeFirst();
  if (!m) return true;
  if (Number(m.created_at) >= cutoff) return false;
  if (!Number(m.loose)) return true;
  const id = Number(m.id);
  pass.tick('manifests', report.manifestsRemoved);
  if (opts.dryRun) {
    if (dry.manifestsGone.has(id)) return true;
    dry.manifestsGone.add(id);
    report.manifestsRemoved++;
    const follow = await ctx.db
      .selectFrom('manifest_ref')
      .select(['kind', 'digest'])
      .where('manifest_id', '=', id)
      .unionAll(
        ctx.db
          .selectFrom('manifest')
          .select([sql<GcCandidateKind>`'manifest'`.as('kind'), 'digest'])
          .where('repository_id', '=', c.repositoryId)
          .where('subject_digest', '=', c.digest),
      )
      .execute();
    for (const f of follow) dry.queue.push({ kind: f.kind as GcCandidateKind, repository_id: c.repositoryId, digest: f.digest });
    return true;
  }
  const went = await removeOne(pass, undefined, async (tx) => {
    await recordManifestDeleted(tx, c.repositoryId, c.digest, now);
    const r = await tx
      .deleteFrom('manifest')
      .where('id', '=', id)
      .where(untagged(sql.val(id)))
      .executeTakeFirst();
    if (Number(r.numDeletedRows) > 0) return true;
    // Tagged meanwhile: the candidates just written are rolled back with this transaction.
    throw new KeptManifest();
  }).catch((e) => {
    if (e instanceof KeptManifest) return false;
    throw e;
  });
  if (went) {
    report.manifestsRemoved++;
    pass.manifestsGone.push(c.digest);
    pass.repositoriesChanged.add(c.repositoryId);
  }
  return true;
}

class KeptManifest extends Error {}

/**
 * A blob candidate: the repository's link to it (when no manifest of the repository names it and it is past the
 * grace period), then the blob row and its bytes (when no repository links it and no manifest names it). Kept for
 * a later pass while within the grace period; otherwise settled.
 */
async function examineBlob(pass: Pass, c: Candidate): Promise<boolean> {
  const { ctx, opts, report, cutoff, dry } = pass;
  const { db } = ctx;
  const link = await db
    .selectFrom('repository_blob as l')
    .select('l.created_at')
    .select((eb) =>
      sql<number>`case when ${linkUnreferenced(eb.ref('l.repository_id'), eb.ref('l.digest'), opts.dryRun ? [...dry.manifestsGone] : [])} then 1 else 0 end`.as(
        'loose',
      ),
    )
    .where('l.repository_id', '=', c.repositoryId)
    .where('l.digest', '=', c.digest)
    .executeTakeFirst();
  const linkKey = `${c.repositoryId} ${c.digest}`;
  if (link && !(opts.dryRun && dry.linksGone.has(linkKey))) {
    if (!Number(link.loose)) return true;
    if (Number(link.created_at) >= cutoff) return false;
    pass.tick('links', report.linksRemoved);
    if (opts.dryRun) {
      dry.linksGone.add(linkKey);
      report.linksRemoved++;
    } else {
      const went = await removeOne(
        pass,
        // Waits for a manifest push holding this link (see ManifestService.put).
        (tx) =>
          tx
            .selectFrom('repository_blob')
            .select('digest')
            .where('repository_id', '=', c.repositoryId)
            .where('digest', '=', c.digest)
            .forUpdate()
            .execute(),
        async (tx) => {
          const r = await tx
            .deleteFrom('repository_blob')
            .where('repository_id', '=', c.repositoryId)
            .where('digest', '=', c.digest)
            .where('created_at', '<', cutoff)
            .where(linkUnreferenced(sql.val(c.repositoryId), sql.val(c.digest)))
            .executeTakeFirst();
          return Number(r.numDeletedRows) > 0;
        },
      );
      if (!went) return true;
      report.linksRemoved++;
    }
  }
  return examineBlobRow(pass, c.digest);
}

/**
 * The blob row: row and bytes go in one transaction that holds the row, so a push committing the same digest
 * (linkBlob) waits for it and then finds no row, and puts its bytes back.
 */
async function examineBlobRow(pass: Pass, digest: string): Promise<boolean> {
  const { ctx, opts, report, cutoff, dry } = pass;
  const { db } = ctx;
  const b = await db
    .selectFrom('blob as b')
    .select(['b.size', 'b.last_used_at'])
    .select((eb) =>
      sql<number>`case when ${blobUnreferenced(eb.ref('b.digest'), opts.dryRun ? dryGone(pass, digest) : {})} then 1 else 0 end`.as(
        'loose',
      ),
    )
    .where('b.digest', '=', digest)
    .executeTakeFirst();
  if (!b || !Number(b.loose)) return true;
  if (Number(b.last_used_at) >= cutoff) return false;
  const size = Number(b.size);
  pass.tick('blobs', report.blobsRemoved);
  if (opts.dryRun) {
    const key = `blob ${digest}`;
    if (dry.linksGone.has(key)) return true;
    dry.linksGone.add(key);
    report.blobsRemoved++;
    report.bytesFreed += size;
    return true;
  }
  const went = await removeOne(
    pass,
    (tx) => tx.selectFrom('blob').select('digest').where('digest', '=', digest).forUpdate().execute(),
    async (tx) => {
      const r = await tx
        .deleteFrom('blob')
        .where('digest', '=', digest)
        .where('last_used_at', '<', cutoff)
        .where(blobUnreferenced(sql.val(digest)))
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await ctx.store.delete(digest);
      return true;
    },
  );
  if (went) {
    report.blobsRemoved++;
    report.bytesFreed += size;
  }
  return true;
}

/** A dry run's view of a blob's references: the links and manifests it would have removed count as gone. */
function dryGone(pass: Pass, digest: string): { linksGone: number[]; manifestsGone: number[] } {
  const linksGone: number[] = [];
  for (const k of pass.dry.linksGone) {
    const sp = k.indexOf(' ');
    if (k.slice(sp + 1) === digest && k.slice(0, sp) !== 'blob') linksGone.push(Number(k.slice(0, sp)));
  }
  return { linksGone, manifestsGone: [...pass.dry.manifestsGone] };
}

/** The scanner forgets removed manifests; only their repositories' namespaces have their quota usage recounted. */
async function afterManifestsRemoved(pass: Pass): Promise<void> {
  const { ctx } = pass;
  if (!pass.manifestsGone.length) return;
  // The scanner's rows of these manifests (scan state, reports, unused layer results) go too.
  if (ctx.onManifestsRemoved) await ctx.onManifestsRemoved(pass.manifestsGone).catch(() => undefined);
  if (!ctx.quota) return;
  const ids = [...pass.repositoriesChanged];
  const namespaces = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await ctx.db
      .selectFrom('repository')
      .select('name')
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const r of rows) namespaces.add(namespaceOfRepository(r.name));
  }
  await ctx.quota.namespacesChanged(namespaces);
}

/**
 * 4. The sweep's last phase: files in storage with no blob row at all (left by a crash before the row was
 * written), streamed from the store and looked up 500 at a time. A push links its file before it writes the row,
 * so each is removed under a placeholder row of its digest, inserted and deleted in one transaction: a push whose
 * row is there (or being written) makes the insert conflict and the file stays; a push that writes its row after
 * waits for this transaction (the row's unique key), then finds the file gone and puts it back from its upload
 * (linkBlob's `ensureBytes`).
 */
async function removeStrayFiles(pass: Pass): Promise<void> {
  let batch: string[] = [];
  let listed = 0;
  for await (const digest of pass.ctx.store.list()) {
    pass.tick('stray files', ++listed);
    batch.push(digest);
    if (batch.length < 500) continue;
    await strayBatch(pass, batch);
    batch = [];
  }
  if (batch.length) await strayBatch(pass, batch);
}

async function strayBatch(pass: Pass, digests: string[]): Promise<void> {
  const { ctx, opts, report, cutoff, now } = pass;
  const { db, store } = ctx;
  const known = new Set((await db.selectFrom('blob').select('digest').where('digest', 'in', digests).execute()).map((r) => r.digest));
  for (const digest of digests) {
    if (known.has(digest)) continue;
    const st = await store.stat(digest);
    if (!st || !(await strayOldEnough(store, digest, cutoff))) continue;
    if (opts.dryRun) {
      if (await db.selectFrom('blob').select('digest').where('digest', '=', digest).executeTakeFirst()) continue;
    } else {
      const removed = await db.transaction().execute(async (tx) => {
        const claimed = await tx
          .insertInto('blob')
          .values({ digest, size: st.size, created_at: now, last_used_at: now })
          .onConflict((oc) => oc.column('digest').doNothing())
          .returning('digest')
          .executeTakeFirst();
        if (!claimed) return false;
        await store.delete(digest);
        await tx.deleteFrom('blob').where('digest', '=', digest).execute();
        return true;
      });
      if (!removed) continue;
    }
    report.strayFilesRemoved++;
    report.bytesFreed += st.size;
  }
}

async function strayOldEnough(store: ServiceContext['store'], digest: string, cutoff: number): Promise<boolean> {
  const mtime = await store.modifiedAt?.(digest);
  return mtime === undefined || mtime === null || mtime < cutoff;
}
