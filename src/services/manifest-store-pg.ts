// PostgreSQL: what a manifest PUT of an image (blobs, no child manifests) reads and writes before its tag's history,
// in one statement (data-modifying WITH) instead of eight round trips (the repository by name, the manifest's id, its
// blobs, the insert, its references, the immutability rules the tag write reads, the tag row, the scan job). Every part runs on the statement's
// one snapshot inside the caller's transaction; a refusal the caller throws afterwards (a blob missing or of another
// size) rolls the insert back with the transaction. SQLite keeps the separate statements (manifests.ts): it cannot
// put a write in a WITH.
import { sql } from 'kysely';
import type { DB } from '../db/database.js';
import { preparedList } from '../db/prepared.js';
import type { ImmutabilityRule } from './tag-rules.js';

export interface NewImageManifest {
  repository: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  content: Uint8Array;
  subject: string | null;
  annotations: string | null;
  now: number;
  /**
   * A tag to point at the manifest in the same statement, as `setTag` writes it when no expiration is given (the
   * tag's own kept while it stays on the same alive manifest); null: none (a push by digest, or a labelled
   * expiration, which the tag's immutability rules decide on).
   */
  tag: string | null;
  /**
   * The scanner's queue (src/scanner/queue.ts, table scan_job): a new manifest's scan job is inserted by the same
   * statement, as ScanQueue.enqueue inserts it (queued now, no attempts; a job already there for the digest is left
   * alone). False: no scanner.
   */
  scanJob: boolean;
}

export interface StoredImageManifest {
  /** Undefined when the repository does not exist (then nothing was written). */
  repositoryId?: number;
  /** The manifest's row: found, or inserted by this statement (`created`). */
  manifestId?: number;
  created: boolean;
  /** Size of each named blob this repository links, held with FOR KEY SHARE until the transaction ends. */
  sizes: Map<string, number>;
  /** The repository's tag immutability rules, in their order. */
  rules: ImmutabilityRule[];
  /** The tag row was written (`tag` given and the manifest's row known to the statement). */
  tagWritten: boolean;
  /** A scan job was queued for the new manifest (`scanJob`, and none was there for the digest). */
  scanQueued: boolean;
}

/** One row of the statement's answer: k says which part it comes from. */
interface Row {
  k: 'p' | 'b' | 'e' | 'm' | 'r' | 't' | 'j';
  t: string | null;
  u: string | null;
  n: number | null;
  o: number | null;
}

type Args = [string, string, string, string | null, number, Uint8Array, string | null, string | null, number, string | null, boolean];

/**
 * The blobs' links and rows are read with FOR KEY SHARE (pushes sharing a blob do not wait for each other; gc's
 * removal takes FOR UPDATE first and waits, then sees this push's references: gc.ts removeOne). The manifest row is
 * inserted only when the repository has every named blob and no row for the digest; a concurrent push of the same
 * manifest makes the insert do nothing (ON CONFLICT waits for it), and the caller then reads the row it committed.
 */
const storeStatement = preparedList(11, (db: DB, args: Args, digests: readonly string[]) => {
  const [repository, digest, mediaType, artifactType, size, content, subject, annotations, now, tag, scanJob] = args;
  const list = sql.join(digests.map((d) => sql`${d}`));
  const rows = sql.join(digests.map((d) => sql`(${d}::text)`));
  return sql<Row>`with repo as (select id from repository where name = ${repository}),
have as (
  select b.digest, b.size from repository_blob l join blob b on b.digest = l.digest
  where l.repository_id = (select id from repo) and l.digest in (${list})
  for key share
),
existing as (select id from manifest where repository_id = (select id from repo) and digest = ${digest}),
m as (
  insert into manifest (repository_id, digest, media_type, artifact_type, size, content, subject_digest, annotations, created_at)
  select repo.id, ${digest}::text, ${mediaType}::text, ${artifactType}::text, ${size}::bigint, ${content}::bytea, ${subject}::text,
    ${annotations}::text, ${now}::bigint
  from repo
  where not exists (select 1 from existing) and (select count(*) from have) = ${sql.lit(digests.length)}
  on conflict (repository_id, digest) do nothing
  returning id
),
refs as (
  insert into manifest_ref (manifest_id, digest, kind)
  select m.id, d.digest, 'blob' from m cross join (values ${rows}) as d(digest)
),
tagged as (
  insert into tag (repository_id, name, manifest_id, updated_at, expires_at)
  select repo.id, ${tag}::text, i.id, ${now}::bigint, null
  from repo cross join (select id from existing union all select id from m) as i
  where ${tag}::text is not null and (select count(*) from have) = ${sql.lit(digests.length)}
  on conflict (repository_id, name) do update set manifest_id = excluded.manifest_id, updated_at = excluded.updated_at,
    expires_at = case when tag.manifest_id = excluded.manifest_id and (tag.expires_at is null or tag.expires_at > excluded.updated_at)
      then tag.expires_at else null end
  returning 1
),
job as (
  insert into scan_job (manifest_digest, repository, state, attempts, lease_until, lease_owner, next_attempt_at, last_error,
    created_at, updated_at)
  select ${digest}::text, ${repository}::text, 'queued', 0, null, null, ${now}::bigint, null, ${now}::bigint, ${now}::bigint
  from m where ${scanJob}::boolean
  on conflict (manifest_digest) do nothing
  returning 1
)
select 'p' as k, null::text as t, null::text as u, id as n, null::bigint as o from repo
union all select 'b', digest, null, size, null from have
union all select 'e', null, null, id, null from existing
union all select 'm', null, null, id, null from m
union all select 't', null, null, null, null from tagged
union all select 'j', null, null, null, null from job
union all select 'r', uuid, tag_pattern, tag_pattern_matches, id from tag_immutability_rule where repository_id = (select id from repo)`;
});

/** Runs the statement in `tx` (a transaction); see the module's comment. */
export async function storeImageManifestPg(tx: DB, m: NewImageManifest, blobDigests: readonly string[]): Promise<StoredImageManifest> {
  const { rows } = await storeStatement(
    tx,
    [m.repository, m.digest, m.mediaType, m.artifactType, m.size, m.content, m.subject, m.annotations, m.now, m.tag, m.scanJob],
    blobDigests,
  );
  const out: StoredImageManifest = { created: false, sizes: new Map(), rules: [], tagWritten: false, scanQueued: false };
  const rules: { o: number; rule: ImmutabilityRule }[] = [];
  for (const r of rows) {
    if (r.k === 'p') out.repositoryId = Number(r.n);
    else if (r.k === 'b') out.sizes.set(r.t as string, Number(r.n));
    else if (r.k === 'e') out.manifestId = Number(r.n);
    else if (r.k === 't') out.tagWritten = true;
    else if (r.k === 'j') out.scanQueued = true;
    else if (r.k === 'm') {
      out.manifestId = Number(r.n);
      out.created = true;
    } else rules.push({ o: Number(r.o), rule: { uuid: r.t as string, tagPattern: r.u as string, tagPatternMatches: Number(r.n) === 1 } });
  }
  out.rules = rules.sort((a, b) => a.o - b.o).map((r) => r.rule);
  return out;
}
