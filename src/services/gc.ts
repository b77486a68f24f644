// Garbage collection: drops expired uploads, unreferenced blob links and the bytes nothing uses.
// Safe beside live pushes: anything touched within the grace period is kept, and a blob row is
// deleted in the same transaction that re-checks it is unused (see UploadService.commit).
import { type Expression, expressionBuilder, sql } from 'kysely';
import type { DB } from '../db/database.js';
import type { Database } from '../db/types.js';
import { blobUnreferenced, linkUnreferenced } from './blob-links.js';
import type { ServiceContext } from './context.js';
import { pruneHistory } from './tag-history.js';

export interface GcOptions {
  /** Also delete manifests that no tag and no index reference (and that are not referrers of a kept manifest). */
  deleteUntagged?: boolean;
  /** Report what would go, change nothing. */
  dryRun?: boolean;
  graceSeconds?: number;
  /** Called as the pass goes (the CLI draws it on a terminal). */
  onProgress?(p: GcProgress): void;
}

export interface GcProgress {
  phase: 'uploads' | 'manifests' | 'links' | 'blobs' | 'stray files';
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
  };
  await removeUploads(pass);
  report.historyPruned = await pruneTagHistory(pass);
  const manifestsGone = opts.deleteUntagged ? await removeUntaggedManifests(pass) : [];
  await removeUnusedLinks(pass);
  await removeUnusedBlobs(pass, manifestsGone);
  await removeStrayFiles(pass);
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
}

/**
 * The one shape of every delete below: candidates were listed as unreferenced; each is deleted in its own
 * transaction that re-checks it. On PostgreSQL (read committed) `lock` first takes the row, so a push that holds
 * it commits before the re-check, which then runs on a new snapshot that sees that push's references; SQLite has
 * one writer at a time. `remove` deletes the row only if still unreferenced and says whether it did; what else
 * must go with the row (the bytes) goes inside the same transaction. Returns the candidates that went.
 */
async function removeEach<T>(
  pass: Pass,
  phase: GcProgress['phase'],
  items: T[],
  step: {
    lock?(tx: DB, item: T): Promise<unknown>;
    remove(tx: DB, item: T): Promise<boolean>;
    /** Called once the transaction that removed `item` has committed. */
    gone?(item: T): void;
  },
): Promise<T[]> {
  const { ctx } = pass;
  const gone: T[] = [];
  for (const [i, item] of items.entries()) {
    pass.tick(phase, i, items.length);
    const went = await ctx.db.transaction().execute(async (tx) => {
      if (ctx.dialect === 'postgres' && step.lock) await step.lock(tx, item);
      return step.remove(tx, item);
    });
    if (!went) continue;
    gone.push(item);
    step.gone?.(item);
  }
  return gone;
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

/** 2a. Tag history that ended before the time-machine window (DEFAULT_TAG_EXPIRATION). */
async function pruneTagHistory({ ctx, opts, historyCutoff }: Pass): Promise<number> {
  if (!opts.dryRun) return pruneHistory(ctx.db, historyCutoff);
  const r = await ctx.db
    .selectFrom('tag_history')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('end_ts', '<', historyCutoff)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

const gcEb = expressionBuilder<Database, never>();
/** No tag points at the manifest. */
const untagged = (id: Expression<number>) =>
  gcEb.not(gcEb.exists(gcEb.selectFrom('tag').select('tag.manifest_id').where('tag.manifest_id', '=', id)));

/**
 * 2. Untagged manifests, when asked: not tagged, not in the tag history window (restorable), not in an index,
 * not a referrer of a kept manifest, past the grace period. Returns the ids that go (a dry run: would go).
 */
async function removeUntaggedManifests(pass: Pass): Promise<number[]> {
  const { ctx, opts, report, cutoff, historyCutoff } = pass;
  const candidates = await ctx.db
    .selectFrom('manifest as m')
    .select(['m.id', 'm.digest'])
    .where('m.created_at', '<', cutoff)
    .where((eb) => untagged(eb.ref('m.id')))
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('tag_history as h')
            .select('h.id')
            .whereRef('h.repository_id', '=', 'm.repository_id')
            .whereRef('h.manifest_digest', '=', 'm.digest')
            .where((eb) => eb.or([eb('h.end_ts', 'is', null), eb('h.end_ts', '>=', historyCutoff)])),
        ),
      ),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('manifest_ref as r')
            .innerJoin('manifest as p', 'p.id', 'r.manifest_id')
            .select('r.digest')
            .whereRef('r.digest', '=', 'm.digest')
            .whereRef('p.repository_id', '=', 'm.repository_id')
            .where('r.kind', '=', 'manifest'),
        ),
      ),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('manifest as s')
            .select('s.id')
            .whereRef('s.digest', '=', 'm.subject_digest')
            .whereRef('s.repository_id', '=', 'm.repository_id'),
        ),
      ),
    )
    .execute();
  report.manifestsRemoved = candidates.length;
  if (opts.dryRun) return candidates.map((m) => m.id);
  const gone = await removeEach(pass, 'manifests', candidates, {
    remove: async (tx, { id }) =>
      Number(
        (
          await tx
            .deleteFrom('manifest')
            .where('id', '=', id)
            .where(untagged(sql.val(id)))
            .executeTakeFirst()
        ).numDeletedRows,
      ) > 0,
  });
  // The scanner's rows of these manifests (scan state, reports, unused layer results) go too.
  if (gone.length && ctx.onManifestsRemoved) await ctx.onManifestsRemoved(gone.map((m) => m.digest)).catch(() => undefined);
  // Storage quotas: the usage of every namespace is recounted (quota/usage.ts).
  if (gone.length) await ctx.quota?.recountAll();
  return [];
}

/** 3. Repository links to blobs that no manifest of that repository uses, older than the grace period. */
async function removeUnusedLinks(pass: Pass): Promise<void> {
  const { ctx, opts, report, cutoff } = pass;
  const links = await ctx.db
    .selectFrom('repository_blob as l')
    .select(['l.repository_id', 'l.digest'])
    .where('l.created_at', '<', cutoff)
    .where((eb) => linkUnreferenced(eb.ref('l.repository_id'), eb.ref('l.digest')))
    .execute();
  report.linksRemoved = links.length;
  if (opts.dryRun) return;
  await removeEach(pass, 'links', links, {
    // Waits for a manifest push holding this link (see ManifestService.put).
    lock: (tx, l) =>
      tx
        .selectFrom('repository_blob')
        .select('digest')
        .where('repository_id', '=', l.repository_id)
        .where('digest', '=', l.digest)
        .forUpdate()
        .execute(),
    remove: async (tx, l) => {
      const r = await tx
        .deleteFrom('repository_blob')
        .where('repository_id', '=', l.repository_id)
        .where('digest', '=', l.digest)
        .where('created_at', '<', cutoff)
        .where(linkUnreferenced(sql.val(l.repository_id), sql.val(l.digest)))
        .executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  });
}

/**
 * 4. Blob rows with no link and no manifest reference: row and bytes go in one transaction that holds the row, so
 * a push committing the same digest (linkBlob) waits for it and then finds no row, and puts its bytes back.
 * A dry run changed nothing above, so it counts as gone what steps 2 and 3 would have removed.
 */
async function removeUnusedBlobs(pass: Pass, manifestsGone: number[]): Promise<void> {
  const { ctx, opts, report, cutoff } = pass;
  const unused = await ctx.db
    .selectFrom('blob as b')
    .select(['b.digest', 'b.size'])
    .where('b.last_used_at', '<', cutoff)
    .where((eb) => blobUnreferenced(eb.ref('b.digest'), opts.dryRun ? { linksGoneBefore: cutoff, manifestsGone } : {}))
    .execute();
  if (opts.dryRun) {
    for (const [i, b] of unused.entries()) {
      pass.tick('blobs', i, unused.length);
      report.blobsRemoved++;
      report.bytesFreed += b.size;
    }
    return;
  }
  await removeEach(pass, 'blobs', unused, {
    lock: (tx, b) => tx.selectFrom('blob').select('digest').where('digest', '=', b.digest).forUpdate().execute(),
    remove: async (tx, b) => {
      const r = await tx
        .deleteFrom('blob')
        .where('digest', '=', b.digest)
        .where('last_used_at', '<', cutoff)
        .where(blobUnreferenced(sql.val(b.digest)))
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await ctx.store.delete(b.digest);
      return true;
    },
    gone: (b) => {
      report.blobsRemoved++;
      report.bytesFreed += b.size;
    },
  });
}

/**
 * 5. Files in storage with no blob row at all (left by a crash before the row was written). A push links its
 * file before it writes the row, so each is removed under a placeholder row of its digest, inserted and deleted
 * in one transaction: a push whose row is there (or being written) makes the insert conflict and the file
 * stays; a push that writes its row after waits for this transaction (the row's unique key), then finds the
 * file gone and puts it back from its upload (linkBlob's `ensureBytes`).
 */
async function removeStrayFiles(pass: Pass): Promise<void> {
  const { ctx, opts, report, cutoff, now } = pass;
  const { db, store } = ctx;
  const known = new Set((await db.selectFrom('blob').select('digest').execute()).map((r) => r.digest));
  let listed = 0;
  for await (const digest of store.list()) {
    pass.tick('stray files', ++listed);
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
