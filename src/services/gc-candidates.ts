// Recording gc candidates (table gc_candidate, migration 0021): each writer that makes a reference go away adds
// what may have become garbage, with one INSERT … SELECT inside its own transaction, so a candidate exists exactly
// when the change that made it one committed. gc (gc.ts) examines only these, plus the rare sweep (gc-sweep.ts).
import { sql } from 'kysely';
import type { DB } from '../db/database.js';
import { prepared } from '../db/prepared.js';
import type { GcCandidateKind } from '../db/types-gc.js';

const insertCandidate = prepared(4, (db: DB, kind: GcCandidateKind, repositoryId: number, digest: string, now: number) =>
  db.insertInto('gc_candidate').values({ kind, repository_id: repositoryId, digest, created_at: now }),
);

/**
 * The columns of gc_candidate rows an INSERT … SELECT writes: `kind` a literal or a column ("r.kind"), the repository id
 * and digest columns of the source, and `now` as created_at. Every shape below selects its rows through this.
 */
function candidateColumns(kind: GcCandidateKind | { column: string }, repositoryId: string, digest: string, now: number) {
  return [
    (typeof kind === 'string' ? sql<GcCandidateKind>`${sql.lit(kind)}` : sql<GcCandidateKind>`${sql.ref(kind.column)}`).as('kind'),
    sql<number>`${sql.ref(repositoryId)}`.as('repository_id'),
    sql<string>`${sql.ref(digest)}`.as('digest'),
    sql<number>`cast(${now} as bigint)`.as('created_at'),
  ];
}

/** One candidate: a repository's link to a blob (then the blob), or a manifest that may be untagged. */
export async function recordCandidate(tx: DB, kind: GcCandidateKind, repositoryId: number, digest: string, now: number): Promise<void> {
  await insertCandidate(tx, kind, repositoryId, digest, now);
}

/**
 * Before a manifest is deleted: what it named (its blobs' links, the manifests of an index) and its referrers
 * (which lose their subject) may become garbage.
 */
export async function recordManifestDeleted(tx: DB, repositoryId: number, digest: string, now: number): Promise<void> {
  await tx
    .insertInto('gc_candidate')
    .columns(['kind', 'repository_id', 'digest', 'created_at'])
    .expression((eb) =>
      eb
        .selectFrom('manifest_ref as r')
        .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
        .select(candidateColumns({ column: 'r.kind' }, 'm.repository_id', 'r.digest', now))
        .where('m.repository_id', '=', repositoryId)
        .where('m.digest', '=', digest)
        .unionAll(
          eb
            .selectFrom('manifest as s')
            .select(candidateColumns('manifest', 's.repository_id', 's.digest', now))
            .where('s.repository_id', '=', repositoryId)
            .where('s.subject_digest', '=', digest),
        ),
    )
    .execute();
}

/** Before repositories are deleted (the database cascades their links): every blob they linked. */
export async function recordRepositoriesDeleted(
  tx: DB,
  which: { repositoryId: number } | { namespaceId: number },
  now: number,
): Promise<void> {
  await tx
    .insertInto('gc_candidate')
    .columns(['kind', 'repository_id', 'digest', 'created_at'])
    .expression((eb) =>
      eb
        .selectFrom('repository_blob as l')
        .select(candidateColumns('blob', 'l.repository_id', 'l.digest', now))
        .$if('repositoryId' in which, (q) => q.where('l.repository_id', '=', (which as { repositoryId: number }).repositoryId))
        .$if('namespaceId' in which, (q) =>
          q.where(
            'l.repository_id',
            'in',
            eb
              .selectFrom('repository')
              .select('id')
              .where('namespace_id', '=', (which as { namespaceId: number }).namespaceId),
          ),
        ),
    )
    .execute();
}

/**
 * Before gc prunes tag history ending before `cutoff` and tags that expired before it: their manifests are no
 * longer kept by them (tag deletes, moves and expirations all end a lifetime, so this is where they surface).
 */
export async function recordHistoryPruned(tx: DB, cutoff: number, now: number): Promise<void> {
  await tx
    .insertInto('gc_candidate')
    .columns(['kind', 'repository_id', 'digest', 'created_at'])
    .expression((eb) =>
      eb
        .selectFrom('tag_history as h')
        .select(candidateColumns('manifest', 'h.repository_id', 'h.manifest_digest', now))
        .where('h.end_ts', 'is not', null)
        .where('h.end_ts', '<', cutoff)
        .unionAll(
          eb
            .selectFrom('tag as t')
            .innerJoin('manifest as m', 'm.id', 't.manifest_id')
            .select(candidateColumns('manifest', 't.repository_id', 'm.digest', now))
            .where('t.expires_at', 'is not', null)
            .where('t.expires_at', '<', cutoff),
        ),
    )
    .execute();
}
