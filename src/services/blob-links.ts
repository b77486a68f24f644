// Recording a committed blob in the database and linking it to a repository, and telling when nothing uses one.
import { type Expression, expressionBuilder, PostgresAdapter, sql, type SqlBool } from 'kysely';
import type { DB } from '../db/database.js';
import type { Database } from '../db/types.js';
import { retryOnConflict } from '../db/retry.js';
import { prepared } from '../db/prepared.js';
import { recordCandidate } from './gc-candidates.js';

const upsertBlob = prepared(3, (db: DB, digest: string, size: number, now: number) =>
  db
    .insertInto('blob')
    .values({ digest, size, created_at: now, last_used_at: now })
    .onConflict((oc) => oc.column('digest').doUpdateSet({ last_used_at: now })),
);
const upsertLink = prepared(3, (db: DB, repositoryId: number, digest: string, now: number) =>
  db
    .insertInto('repository_blob')
    .values({ repository_id: repositoryId, digest, created_at: now })
    .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ created_at: now })),
);
const deleteUpload = prepared(1, (db: DB, id: string) => db.deleteFrom('upload').where('id', '=', id));

/**
 * PostgreSQL, all of a blob's recording in one statement (a data-modifying WITH: every part runs, on one snapshot,
 * and commits or rolls back with the transaction; SQLite cannot put a write in a WITH): the upload row's delete (when
 * `uploadId` is not null: `id = null` matches no row), the blob upsert, the repository link and its gc candidate. The link's foreign key is checked at
 * the end of the statement, after the blob row is written.
 */
const recordBlobPg = prepared(5, (db: DB, uploadId: string | null, digest: string, size: number, now: number, repositoryId: number) =>
  db
    .with('upload_gone', (qc) => qc.deleteFrom('upload').where('id', '=', uploadId))
    .with('stored', (qc) =>
      qc
        .insertInto('blob')
        .values({ digest, size, created_at: now, last_used_at: now })
        .onConflict((oc) => oc.column('digest').doUpdateSet({ last_used_at: now })),
    )
    .with('linked', (qc) =>
      qc
        .insertInto('repository_blob')
        .values({ repository_id: repositoryId, digest, created_at: now })
        .onConflict((oc) => oc.columns(['repository_id', 'digest']).doUpdateSet({ created_at: now })),
    )
    .insertInto('gc_candidate')
    .values({ kind: 'blob', repository_id: repositoryId, digest, created_at: now }),
);

/**
 * `recordBlobPg` with the repository by name, found in the same statement: nothing is written (and no row returned)
 * when no repository has the name. The blob PUT's own lookup of the repository was a round trip of its own.
 */
const recordBlobByNamePg = prepared(
  5,
  (db: DB, uploadId: string | null, digest: string, size: number, now: number, repository: string) =>
    sql<{ ok: number }>`with repo as (select id from repository where name = ${repository}),
upload_gone as (delete from upload where id = ${uploadId}::text and exists (select 1 from repo)),
stored as (
  insert into blob (digest, size, created_at, last_used_at) select ${digest}::text, ${size}::bigint, ${now}::bigint, ${now}::bigint
  from repo
  on conflict (digest) do update set last_used_at = excluded.last_used_at
),
linked as (
  insert into repository_blob (repository_id, digest, created_at) select repo.id, ${digest}::text, ${now}::bigint from repo
  on conflict (repository_id, digest) do update set created_at = excluded.created_at
),
candidate as (
  insert into gc_candidate (kind, repository_id, digest, created_at) select 'blob', repo.id, ${digest}::text, ${now}::bigint from repo
)
select 1 as ok from repo`,
);

const onPostgres = (db: DB) => db.getExecutor().adapter instanceof PostgresAdapter;

/**
 * Upserts the blob row (touching last_used_at, which guards it from gc) and links it to the repository.
 * `ensureBytes` runs inside the transaction right after the blob row is written: gc deletes a blob's row and
 * its file in one transaction that holds that row (SQLite: the write lock; PostgreSQL: the row lock the upsert
 * waits for), so what `ensureBytes` sees is final. It puts the bytes back or throws, and then nothing is
 * committed: no row ever points at bytes a concurrent gc took, so no manifest can be acknowledged on them.
 * `uploadId`: the upload session's row, deleted in the same transaction (one commit for both).
 */
export async function linkBlob(
  db: DB,
  repositoryId: number,
  digest: string,
  size: number,
  now: number,
  uploadId?: string,
  ensureBytes?: () => Promise<void>,
): Promise<void> {
  const pg = onPostgres(db);
  await retryOnConflict(() =>
    db.transaction().execute(async (tx) => {
      if (pg) {
        // One statement; the link and candidate are written before `ensureBytes` here, in the same transaction
        // (nothing commits if it throws), and the blob row is held all the same.
        await recordBlobPg(tx, uploadId ?? null, digest, size, now, repositoryId);
        await ensureBytes?.();
        return;
      }
      if (uploadId !== undefined) await deleteUpload(tx, uploadId);
      await upsertBlob(tx, digest, size, now);
      await ensureBytes?.();
      // gc examines the link once past its grace period: garbage if no manifest came to use it.
      await upsertLink(tx, repositoryId, digest, now);
      await recordCandidate(tx, 'blob', repositoryId, digest, now);
    }),
  );
}

/**
 * PostgreSQL: `linkBlob` for a repository given by name, found in the same statement as the writes. False when no
 * repository has the name: nothing was written or run (`ensureBytes` neither); the caller creates the repository
 * and calls `linkBlob`.
 */
export async function linkBlobByNamePg(
  db: DB,
  repository: string,
  digest: string,
  size: number,
  now: number,
  uploadId?: string,
  ensureBytes?: () => Promise<void>,
): Promise<boolean> {
  return retryOnConflict(() =>
    db.transaction().execute(async (tx) => {
      const { rows } = await recordBlobByNamePg(tx, uploadId ?? null, digest, size, now, repository);
      if (rows.length === 0) return false;
      await ensureBytes?.();
      return true;
    }),
  );
}

const eb = expressionBuilder<Database, never>();

/**
 * True where a manifest is neither tagged nor in its repository's tag history since `historyCutoff` (restorable):
 * the manifest side of gc's rule, shared by a pass's candidates (gc.ts) and the sweep (gc-sweep.ts).
 */
export function manifestUntagged(
  id: Expression<number>,
  repositoryId: Expression<number>,
  digest: Expression<string>,
  historyCutoff: number,
): Expression<SqlBool> {
  return eb.and([
    eb.not(eb.exists(eb.selectFrom('tag').select('tag.manifest_id').where('tag.manifest_id', '=', id))),
    eb.not(
      eb.exists(
        eb
          .selectFrom('tag_history as h')
          .select('h.id')
          .where('h.repository_id', '=', repositoryId)
          .where('h.manifest_digest', '=', digest)
          .where((w) => w.or([w('h.end_ts', 'is', null), w('h.end_ts', '>=', historyCutoff)])),
      ),
    ),
  ]);
}

/**
 * True where a blob is used by nothing: no repository links it and no manifest names it. `digest` is a column
 * (`eb.ref('b.digest')`, to list candidates) or a value (`sql.val(digest)`, to re-check one before deleting it).
 * A dry run counts as gone the links of the repositories in `linksGone` and the manifests in `manifestsGone`.
 */
export function blobUnreferenced(
  digest: Expression<string>,
  dryRun: { linksGone?: number[]; manifestsGone?: number[] } = {},
): Expression<SqlBool> {
  const { linksGone, manifestsGone } = dryRun;
  return eb.and([
    eb.not(
      eb.exists(
        eb
          .selectFrom('repository_blob')
          .select('repository_blob.digest')
          .where('repository_blob.digest', '=', digest)
          .$if(!!linksGone?.length, (q) => q.where('repository_blob.repository_id', 'not in', linksGone!)),
      ),
    ),
    eb.not(
      eb.exists(
        eb
          .selectFrom('manifest_ref')
          .select('manifest_ref.digest')
          .where('manifest_ref.digest', '=', digest)
          .$if(!!manifestsGone?.length, (q) => q.where('manifest_ref.manifest_id', 'not in', manifestsGone!)),
      ),
    ),
  ]);
}

/**
 * True where no manifest of the repository names the blob: its link to that repository is unused. A dry run
 * counts the manifests in `manifestsGone` as gone.
 */
export function linkUnreferenced(
  repositoryId: Expression<number>,
  digest: Expression<string>,
  manifestsGone: number[] = [],
): Expression<SqlBool> {
  return eb.not(
    eb.exists(
      eb
        .selectFrom('manifest_ref as r')
        .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
        .select('r.digest')
        .where('r.digest', '=', digest)
        .where('m.repository_id', '=', repositoryId)
        .$if(manifestsGone.length > 0, (q) => q.where('m.id', 'not in', manifestsGone)),
    ),
  );
}
