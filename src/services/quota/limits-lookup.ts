// The limits in force for a namespace: its quota and limits, or DEFAULT_SYSTEM_REJECT_QUOTA_BYTES (a Reject
// limit at 100%) when it has no quota. Quay's check_limits: a limit is crossed when usage > limit_bytes x percent.
import type { DB } from '../../db/database.js';
import type { QuotaLimitType } from '../../db/types-quota.js';
import type { QuotaSettings } from '../../config/schema-quota.js';

export interface LimitsInForce {
  /** The quota's size (null: no quota and no system default). */
  limitBytes: number | null;
  /** True when the namespace has no quota of its own and the system default applies. */
  systemDefault: boolean;
  limits: { type: QuotaLimitType; percent: number; bytes: number }[];
}

export async function limitsInForce(db: DB, settings: QuotaSettings, namespace: string): Promise<LimitsInForce> {
  const q = await db
    .selectFrom('namespace_quota as q')
    .innerJoin('account as a', 'a.id', 'q.namespace_id')
    .select(['q.id', 'q.limit_bytes'])
    .where('a.name', '=', namespace)
    .executeTakeFirst();
  if (!q) {
    const d = settings.defaultRejectBytes;
    return d > 0
      ? { limitBytes: d, systemDefault: true, limits: [{ type: 'Reject', percent: 100, bytes: d }] }
      : { limitBytes: null, systemDefault: false, limits: [] };
  }
  const limitBytes = Number(q.limit_bytes);
  const rows = await db.selectFrom('quota_limit').select(['type', 'threshold_percent']).where('quota_id', '=', q.id).execute();
  return {
    limitBytes,
    systemDefault: false,
    limits: rows.map((r) => ({
      type: r.type,
      percent: Number(r.threshold_percent),
      bytes: Math.floor((limitBytes * Number(r.threshold_percent)) / 100),
    })),
  };
}

/** The most severe limit that `usage` crosses (the one with the highest byte count), as Quay reports it. */
export function crossedLimit(f: LimitsInForce, usage: number): LimitsInForce['limits'][number] | undefined {
  let worst: LimitsInForce['limits'][number] | undefined;
  for (const l of f.limits) if (usage > l.bytes && (!worst || l.bytes > worst.bytes)) worst = l;
  return worst;
}
