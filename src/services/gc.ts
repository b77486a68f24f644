// Garbage collection: drops expired uploads, unreferenced blob links and the bytes nothing uses.
// Safe beside live pushes: anything touched within the grace period is kept, and a blob row is
// deleted in the same transaction that re-checks it is unused (see UploadService.commit).
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
  const { db, store } = ctx;
  const now = ctx.now();
  const cutoff = now - (opts.graceSeconds ?? ctx.config.gcGraceSeconds) * 1000;

  // 1. Upload sessions nobody touched for UPLOAD_EXPIRY_SECONDS, and upload files with no session.
  // Files are listed before rows are read: a new upload writes its row before its file, so any
  // listed file of a live upload has a row by the time the rows are read.
  const uploadFiles = await store.listUploads();
  const expired = await db
    .selectFrom('upload')
    .select('id')
    .where('updated_at', '<', now - ctx.config.uploadExpirySeconds * 1000)
    .execute();
  const liveUploads = new Set((await db.selectFrom('upload').select('id').execute()).map((r) => r.id));
  const tick = (phase: GcProgress['phase'], done: number, total?: number) =>
    opts.onProgress?.({ phase, done, total, bytes: report.bytesFreed });
  for (const { id } of expired) {
    report.uploadsRemoved++;
    tick('uploads', report.uploadsRemoved, expired.length);
    if (opts.dryRun) continue;
    await db.deleteFrom('upload').where('id', '=', id).execute();
    await store.deleteUpload(id);
  }
  // Files with no row belong to single-request uploads (POST ?digest=) or to a crash; one idle
  // for the grace period is no longer being written.
  for (const id of uploadFiles) {
    if (liveUploads.has(id) || opts.dryRun) continue;
    const mtime = await store.uploadModifiedAt(id);
    if (mtime !== null && mtime < cutoff) await store.deleteUpload(id);
  }

  // 2a. Tag history that ended before the time-machine window (DEFAULT_TAG_EXPIRATION).
  const historyCutoff = now - ctx.config.tagHistorySeconds * 1000;
  report.historyPruned = opts.dryRun
    ? Number(
        (
          await db
            .selectFrom('tag_history')
            .select((eb) => eb.fn.countAll().as('n'))
            .where('end_ts', '<', historyCutoff)
            .executeTakeFirstOrThrow()
        ).n,
      )
    : await pruneHistory(db, historyCutoff);

  const dryRunRemovedManifests: number[] = [];
  // 2. Untagged manifests, when asked: not tagged, not in the tag history window (restorable), not in an index,
  // not a referrer of a kept manifest, past the grace period.
  if (opts.deleteUntagged) {
    const untagged = await db
      .selectFrom('manifest as m')
      .select(['m.id', 'm.digest'])
      .where('m.created_at', '<', cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('tag').select('tag.manifest_id').whereRef('tag.manifest_id', '=', 'm.id'))),
      )
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
    report.manifestsRemoved = untagged.length;
    if (opts.dryRun) dryRunRemovedManifests.push(...untagged.map((m) => m.id));
    if (!opts.dryRun) {
      const removed: string[] = [];
      for (const { id, digest } of untagged) {
        tick('manifests', removed.length, untagged.length);
        const r = await db
          .deleteFrom('manifest')
          .where('id', '=', id)
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('tag').select('tag.manifest_id').where('tag.manifest_id', '=', id))),
          )
          .executeTakeFirst();
        if (Number(r.numDeletedRows) > 0) removed.push(digest);
      }
      // The scanner's rows of these manifests (scan state, reports, unused layer results) go too.
      if (removed.length && ctx.onManifestsRemoved) await ctx.onManifestsRemoved(removed).catch(() => undefined);
      // Storage quotas: the usage of every namespace is recounted (quota/usage.ts).
      if (removed.length) await ctx.quota?.recountAll();
    }
  }

  // 3. Repository links to blobs that no manifest of that repository uses, older than the grace period.
  const staleLinks = db
    .selectFrom('repository_blob as l')
    .select(['l.repository_id', 'l.digest'])
    .where('l.created_at', '<', cutoff)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('manifest_ref as r')
            .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
            .select('r.digest')
            .whereRef('r.digest', '=', 'l.digest')
            .whereRef('m.repository_id', '=', 'l.repository_id'),
        ),
      ),
    );
  const links = await staleLinks.execute();
  report.linksRemoved = links.length;
  if (!opts.dryRun) {
    for (const [i, l] of links.entries()) {
      tick('links', i, links.length);
      await db.transaction().execute(async (tx) => {
        // PostgreSQL: wait for a manifest push holding this link (see ManifestService.put), then
        // re-check on a new snapshot, which sees that push's references.
        if (ctx.dialect === 'postgres') {
          await tx
            .selectFrom('repository_blob')
            .select('digest')
            .where('repository_id', '=', l.repository_id)
            .where('digest', '=', l.digest)
            .forUpdate()
            .execute();
        }
        await tx
          .deleteFrom('repository_blob')
          .where('repository_id', '=', l.repository_id)
          .where('digest', '=', l.digest)
          .where('created_at', '<', cutoff)
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('manifest_ref as r')
                  .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
                  .select('r.digest')
                  .where('r.digest', '=', l.digest)
                  .where('m.repository_id', '=', l.repository_id),
              ),
            ),
          )
          .execute();
      });
    }
  }

  // 4. Blob rows with no link and no manifest reference: delete row and bytes together.
  // A dry run changed nothing above, so it counts as gone what steps 2 and 3 would have removed.
  const unused = await db
    .selectFrom('blob as b')
    .select(['b.digest', 'b.size'])
    .where('b.last_used_at', '<', cutoff)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('repository_blob')
            .select('digest')
            .whereRef('repository_blob.digest', '=', 'b.digest')
            .$if(!!opts.dryRun, (q) => q.where('repository_blob.created_at', '>=', cutoff)),
        ),
      ),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('manifest_ref')
            .select('digest')
            .whereRef('manifest_ref.digest', '=', 'b.digest')
            .$if(!!opts.dryRun && dryRunRemovedManifests.length > 0, (q) =>
              q.where('manifest_ref.manifest_id', 'not in', dryRunRemovedManifests),
            ),
        ),
      ),
    )
    .execute();
  for (const [i, b] of unused.entries()) {
    tick('blobs', i, unused.length);
    if (opts.dryRun) {
      report.blobsRemoved++;
      report.bytesFreed += b.size;
      continue;
    }
    const gone = await db.transaction().execute(async (tx) => {
      // PostgreSQL (read committed): lock the row first, so a manifest push that is touching it
      // commits before the check below, which then runs on a new snapshot that sees its references.
      if (ctx.dialect === 'postgres') await tx.selectFrom('blob').select('digest').where('digest', '=', b.digest).forUpdate().execute();
      const r = await tx
        .deleteFrom('blob')
        .where('digest', '=', b.digest)
        .where('last_used_at', '<', cutoff)
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('repository_blob').select('digest').where('repository_blob.digest', '=', b.digest))),
        )
        .where(({ not, exists, selectFrom }) =>
          not(exists(selectFrom('manifest_ref').select('digest').where('manifest_ref.digest', '=', b.digest))),
        )
        .executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) return false;
      await store.delete(b.digest);
      return true;
    });
    if (gone) {
      report.blobsRemoved++;
      report.bytesFreed += b.size;
    }
  }

  // 5. Files in storage with no blob row at all (left by a crash before the row was written).
  const known = new Set<string>();
  for (const r of await db.selectFrom('blob').select('digest').execute()) known.add(r.digest);
  let listed = 0;
  for await (const digest of store.list()) {
    tick('stray files', ++listed);
    if (known.has(digest)) continue;
    const st = await store.stat(digest);
    // Re-check: a push may have linked the file and not yet committed its row.
    const row = await db.selectFrom('blob').select('digest').where('digest', '=', digest).executeTakeFirst();
    if (row || !st) continue;
    if (!(await strayOldEnough(store, digest, cutoff))) continue;
    report.strayFilesRemoved++;
    report.bytesFreed += st.size;
    if (!opts.dryRun) await store.delete(digest);
  }
}

async function strayOldEnough(store: ServiceContext['store'], digest: string, cutoff: number): Promise<boolean> {
  const mtime = await store.modifiedAt?.(digest);
  return mtime === undefined || mtime === null || mtime < cutoff;
}
