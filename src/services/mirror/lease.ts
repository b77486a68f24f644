// Who syncs a mirrored repository now: a lease in its repo_mirror row (lease_owner, and sync_expiration_date
// as the lease's end), taken with a conditional UPDATE so that of several replicas exactly one wins, renewed
// while the sync runs, and given up with the sync's verdict. A replica that dies stops renewing; once the
// lease has expired, any replica (or the restarted one) takes the sync over where it stopped.
import type { ServiceContext } from '../context.js';
import { MAX_SYNC_RETRIES, type MirrorRow } from './config-store.js';

const DUE_STATUSES = ['NEVER_RUN', 'SYNC_SUCCESS', 'SYNC_FAILED'] as const;

/** Mirrors that are due now (Quay's get_eligible_mirrors), oldest start date first. */
export async function dueMirrors(ctx: ServiceContext, now: number, limit = 20): Promise<(MirrorRow & { name: string })[]> {
  return ctx.db
    .selectFrom('repo_mirror as m')
    .innerJoin('repository as r', 'r.id', 'm.repository_id')
    .selectAll('m')
    .select('r.name')
    .where('r.state', '=', 'MIRROR')
    .where((eb) =>
      eb.or([
        eb.and([eb('m.sync_status', '=', 'SYNC_NOW')]),
        eb.and([
          eb('m.is_enabled', '=', 1),
          eb('m.sync_status', 'in', DUE_STATUSES),
          eb('m.sync_start_date', '<=', now),
          eb('m.sync_retries_remaining', '>', 0),
        ]),
        eb.and([eb('m.sync_status', '=', 'SYNCING'), eb('m.sync_expiration_date', '<', now)]),
      ]),
    )
    .orderBy('m.sync_start_date')
    .limit(limit)
    .execute();
}

/**
 * Takes the lease of a mirror read by dueMirrors: succeeds only if the row is still as it was read (same status,
 * no live lease), so a concurrent claim, a cancel or a sync-now in between makes it fail. Returns whether the
 * sync resumes one that another (dead) owner had started.
 */
export async function claimMirror(ctx: ServiceContext, row: MirrorRow, owner: string, leaseMs: number): Promise<boolean> {
  const now = ctx.now();
  let q = ctx.db
    .updateTable('repo_mirror')
    .set({ sync_status: 'SYNCING', lease_owner: owner, sync_expiration_date: now + leaseMs, updated_at: now })
    .where('repository_id', '=', row.repository_id)
    .where('sync_status', '=', row.sync_status)
    .where('repository_id', 'in', (eb) => eb.selectFrom('repository').select('id').where('state', '=', 'MIRROR'));
  q =
    row.sync_status === 'SYNCING'
      ? q.where('sync_expiration_date', '<', now).where('lease_owner', row.lease_owner === null ? 'is' : '=', row.lease_owner)
      : q.where('lease_owner', 'is', null);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Extends the lease; false when it is no longer ours (cancelled, taken over, repository no longer a mirror). */
export async function renewLease(
  ctx: ServiceContext,
  repositoryId: number,
  owner: string,
  leaseMs: number,
  progress?: string,
): Promise<boolean> {
  const now = ctx.now();
  const r = await ctx.db
    .updateTable('repo_mirror')
    .set({ sync_expiration_date: now + leaseMs, ...(progress !== undefined ? { progress } : {}) })
    .where('repository_id', '=', repositoryId)
    .where('lease_owner', '=', owner)
    .where('sync_status', '=', 'SYNCING')
    .where('repository_id', 'in', (eb) => eb.selectFrom('repository').select('id').where('state', '=', 'MIRROR'))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/**
 * Ends the lease with the sync's verdict (Quay's release_mirror): a success schedules the next sync at the next
 * multiple of sync_interval after sync_start_date; a failure keeps the start date (retried at the next look) until
 * the retries are used up, then waits for the next interval with the retries reset.
 */
export async function releaseMirror(
  ctx: ServiceContext,
  repositoryId: number,
  owner: string,
  verdict: { ok: true; progress: string } | { ok: false; reason: string; progress: string },
): Promise<boolean> {
  const row = await ctx.db.selectFrom('repo_mirror').selectAll().where('repository_id', '=', repositoryId).executeTakeFirst();
  if (!row || row.lease_owner !== owner) return false;
  const now = ctx.now();
  let retries = row.sync_retries_remaining;
  let next = row.sync_start_date;
  if (!verdict.ok) retries = Math.max(0, retries - 1);
  if (verdict.ok || retries < 1) {
    next = nextStart(row.sync_start_date ?? now, row.sync_interval, now);
    retries = MAX_SYNC_RETRIES;
  }
  const r = await ctx.db
    .updateTable('repo_mirror')
    .set({
      sync_status: verdict.ok ? 'SYNC_SUCCESS' : 'SYNC_FAILED',
      lease_owner: null,
      sync_expiration_date: null,
      sync_retries_remaining: retries,
      sync_start_date: next,
      last_sync: now,
      last_error: verdict.ok ? null : verdict.reason.slice(0, 2000),
      progress: verdict.progress,
      updated_at: now,
    })
    .where('repository_id', '=', repositoryId)
    .where('lease_owner', '=', owner)
    .where('sync_status', '=', 'SYNCING')
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** The first start + k * interval after now (start itself when it is still ahead). */
export function nextStart(start: number, intervalSeconds: number, now: number): number {
  const step = Math.max(1, intervalSeconds) * 1000;
  if (start > now) return start;
  return now + step - ((now - start) % step);
}

/** Records progress without touching the lease (the status page shows it). */
export async function saveProgress(ctx: ServiceContext, repositoryId: number, owner: string, progress: string): Promise<void> {
  await ctx.db
    .updateTable('repo_mirror')
    .set({ progress })
    .where('repository_id', '=', repositoryId)
    .where('lease_owner', '=', owner)
    .execute();
}
