// gc's safety net: a sweep of every manifest, repository link and blob row, in keyset pages, finding garbage that
// has no candidate (rows written around Berth, a bug, a candidate lost to a restore). It does not delete: what it
// finds becomes a candidate, and gc's candidate step removes it with the usual re-checks. It runs rarely
// (GC_SWEEP_INTERVAL_SECONDS after the last one ended, or `berth gc --sweep`), at most GC_SWEEP_ROWS rows per pass,
// and its position (gc_sweep) survives passes, restarts and a crash: a sweep resumes where it stopped. The last
// phase, stored files with no blob row, is streamed by gc.ts (removeStrayFiles).
import { sql } from 'kysely';
import type { DB } from '../db/database.js';
import type { GcCandidateKind } from '../db/types-gc.js';
import { blobUnreferenced, linkUnreferenced, manifestUntagged } from './blob-links.js';

export type SweepPhase = 'manifests' | 'links' | 'blobs' | 'files' | 'done';
const NEXT: Record<SweepPhase, SweepPhase> = { manifests: 'links', links: 'blobs', blobs: 'files', files: 'done', done: 'done' };
const PAGE = 1000;

export interface SweepFound {
  kind: GcCandidateKind;
  repository_id: number;
  digest: string;
}

export interface SweepState {
  phase: SweepPhase;
  cursor: string | null;
  started_at: number;
}

/**
 * The sweep this pass continues or starts, or undefined when none is due. `force` starts one when none is in
 * progress (berth gc --sweep); `intervalSeconds` 0 never starts one on its own.
 */
export async function sweepToRun(db: DB, now: number, intervalSeconds: number, force: boolean): Promise<SweepState | undefined> {
  const row = await db
    .selectFrom('gc_sweep')
    .select(['phase', 'cursor', 'started_at', 'finished_at'])
    .where('id', '=', 1)
    .executeTakeFirst();
  if (row && row.phase !== 'done') return { phase: row.phase as SweepPhase, cursor: row.cursor, started_at: Number(row.started_at) };
  const due = force || (intervalSeconds > 0 && (!row || Number(row.finished_at ?? 0) <= now - intervalSeconds * 1000));
  return due ? { phase: 'manifests', cursor: null, started_at: now } : undefined;
}

/** Records the sweep's position (inside the transaction that recorded the page's candidates). */
export async function saveSweep(db: DB, s: SweepState, now: number): Promise<void> {
  const finished_at = s.phase === 'done' ? now : null;
  await db
    .insertInto('gc_sweep')
    .values({ id: 1, phase: s.phase, cursor: s.cursor, started_at: s.started_at, finished_at })
    .onConflict((oc) => oc.column('id').doUpdateSet({ phase: s.phase, cursor: s.cursor, started_at: s.started_at, finished_at }))
    .execute();
}

/**
 * Sweeps database rows from `s` on, at most `rows` of them (Infinity: to the end of the blob phase), handing what
 * looks like garbage to `found` page by page together with the position after that page. `manifests`: whether
 * the manifest phase looks for untagged manifests (a `--delete-untagged` pass) or is skipped. Returns the state
 * it stopped at (phase 'files' once the database phases are done).
 */
export async function sweepRows(
  db: DB,
  s: SweepState,
  o: { rows: number; manifests: boolean; historyCutoff: number },
  found: (items: SweepFound[], next: SweepState, rows: number) => Promise<void>,
): Promise<SweepState> {
  let budget = o.rows;
  let state = { ...s };
  while (budget > 0 && state.phase !== 'files' && state.phase !== 'done') {
    const limit = Math.min(PAGE, budget);
    const page = await readPage(db, state, limit, o);
    budget -= page.rows;
    const next: SweepState = page.rows < limit ? { ...state, phase: NEXT[state.phase], cursor: null } : { ...state, cursor: page.cursor };
    await found(page.found, next, page.rows);
    state = next;
  }
  return state;
}

const flag = (cond: ReturnType<typeof blobUnreferenced>) => sql<number>`case when ${cond} then 1 else 0 end`;

async function readPage(
  db: DB,
  s: SweepState,
  limit: number,
  o: { manifests: boolean; historyCutoff: number },
): Promise<{ rows: number; cursor: string | null; found: SweepFound[] }> {
  if (s.phase === 'manifests') {
    if (!o.manifests) return { rows: 0, cursor: null, found: [] };
    const after = s.cursor === null ? 0 : Number(s.cursor);
    const rows = await db
      .selectFrom('manifest as m')
      .select(['m.id', 'm.repository_id', 'm.digest'])
      .select((eb) => flag(manifestUntagged(eb.ref('m.id'), eb.ref('m.repository_id'), eb.ref('m.digest'), o.historyCutoff)).as('loose'))
      .where('m.id', '>', after)
      .orderBy('m.id')
      .limit(limit)
      .execute();
    return {
      rows: rows.length,
      cursor: rows.length ? String(rows[rows.length - 1].id) : s.cursor,
      found: rows
        .filter((r) => Number(r.loose))
        .map((r) => ({ kind: 'manifest', repository_id: Number(r.repository_id), digest: r.digest })),
    };
  }
  if (s.phase === 'links') {
    const [repo, digest] = s.cursor === null ? [0, ''] : (JSON.parse(s.cursor) as [number, string]);
    const rows = await db
      .selectFrom('repository_blob as l')
      .select(['l.repository_id', 'l.digest'])
      .select((eb) => flag(linkUnreferenced(eb.ref('l.repository_id'), eb.ref('l.digest'))).as('loose'))
      // A row-value comparison: both dialects read the primary key's index from that position.
      .where(sql<boolean>`(l.repository_id, l.digest) > (${repo}, ${digest})`)
      .orderBy('l.repository_id')
      .orderBy('l.digest')
      .limit(limit)
      .execute();
    const last = rows[rows.length - 1];
    return {
      rows: rows.length,
      cursor: last ? JSON.stringify([Number(last.repository_id), last.digest]) : s.cursor,
      found: rows.filter((r) => Number(r.loose)).map((r) => ({ kind: 'blob', repository_id: Number(r.repository_id), digest: r.digest })),
    };
  }
  const after = s.cursor ?? '';
  const rows = await db
    .selectFrom('blob as b')
    .select('b.digest')
    .select((eb) => flag(blobUnreferenced(eb.ref('b.digest'))).as('loose'))
    .where('b.digest', '>', after)
    .orderBy('b.digest')
    .limit(limit)
    .execute();
  return {
    rows: rows.length,
    cursor: rows.length ? rows[rows.length - 1].digest : s.cursor,
    // No repository: the candidate step finds no link and goes straight to the blob row.
    found: rows.filter((r) => Number(r.loose)).map((r) => ({ kind: 'blob', repository_id: 0, digest: r.digest })),
  };
}
