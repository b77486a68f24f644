// Quotas and their limits (Quay's UserOrganizationQuota / QuotaLimits and its rules), and the quota_report of
// namespaces and repositories. Who may call what is decided at the edge (src/http/api/quota.ts).
import type { DB } from '../../db/database.js';
import type { QuotaLimitType } from '../../db/types-quota.js';
import type { QuotaSettings } from '../../config/schema-quota.js';
import { invalid, notFound } from '../accounts/errors.js';
import { findAccount } from '../accounts/store.js';
import { crossedLimit, limitsInForce } from './limits-lookup.js';
import type { QuotaUsage } from './usage.js';
import { namespaceOfRepository } from './namespace.js';

export interface LimitView {
  id: number;
  type: QuotaLimitType;
  limit_percent: number;
}
export interface QuotaView {
  id: number;
  limit_bytes: number;
  /** Human readable, as Quay shows it ("10.0 GiB"). */
  limit: string;
  default_config: boolean;
  limits: LimitView[];
  default_config_exists: boolean;
}
export interface NamespaceQuotaReport {
  quota_bytes: number;
  configured_quota: number | null;
  running_backfill: 'waiting' | 'running' | 'complete';
  backfill_status: 'waiting' | 'running' | 'complete';
  /** Berth: the most severe limit the usage is over (Quay's check_limits severity), null when none. */
  severity_level: QuotaLimitType | null;
  /** Berth: usage as a percentage of the quota (null without one). */
  percent_consumed: number | null;
}
export interface RepositoryQuotaReport {
  quota_bytes: number;
  configured_quota: number | null;
}

const MAX_LIMIT_BYTES = Number.MAX_SAFE_INTEGER;
const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

export function humanBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < IEC.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${IEC[u]}`;
}

const UNIT_BYTES: Record<string, number> = {
  '': 1,
  B: 1,
  K: 1024,
  KI: 1024,
  KIB: 1024,
  KB: 1000,
  M: 1024 ** 2,
  MI: 1024 ** 2,
  MIB: 1024 ** 2,
  MB: 1000 ** 2,
  G: 1024 ** 3,
  GI: 1024 ** 3,
  GIB: 1024 ** 3,
  GB: 1000 ** 3,
  T: 1024 ** 4,
  TI: 1024 ** 4,
  TIB: 1024 ** 4,
  TB: 1000 ** 4,
  P: 1024 ** 5,
  PI: 1024 ** 5,
  PIB: 1024 ** 5,
  PB: 1000 ** 5,
};

/** Quay's `limit` strings ("10 GiB", "500MB", "1Ti"); throws a specific error for anything else. */
export function parseLimit(text: string): number {
  const m = /^(\d+)\s?([A-Za-z]*)$/.exec(text.trim());
  const unit = m ? UNIT_BYTES[m[2].toUpperCase()] : undefined;
  if (!m || unit === undefined) throw invalid('Invalid limit format');
  return requireLimitBytes(Number(m[1]) * unit);
}

/** Quay's rules for limit_bytes: an integer above 0 that the database can hold. */
export function requireLimitBytes(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !Number.isInteger(v))
    throw invalid(`limit_bytes must be a whole number of bytes, not ${JSON.stringify(v)?.slice(0, 40)}`);
  if (v <= 0) throw invalid(`Invalid quota size limit value: '${v}'`);
  if (v > MAX_LIMIT_BYTES) throw invalid(`Unsupported quota size limit: ${v} is more than ${MAX_LIMIT_BYTES} bytes`);
  return v;
}

export function requireLimitType(v: unknown): QuotaLimitType {
  if (typeof v === 'string' && v.toLowerCase() === 'warning') return 'Warning';
  if (typeof v === 'string' && v.toLowerCase() === 'reject') return 'Reject';
  throw invalid('Quota type must be one of [Warning, Reject]');
}

export function requireThreshold(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 100) throw invalid('Quota limit threshold must be between 1 and 100');
  return v;
}

function requireId(v: string, what: string): number {
  if (!/^\d{1,15}$/.test(v)) throw notFound(`${what} "${v.slice(0, 40)}" does not exist`);
  return Number(v);
}

export class QuotaService {
  constructor(
    private readonly db: DB,
    readonly settings: QuotaSettings,
    private readonly usage: QuotaUsage,
    private readonly now: () => number,
  ) {}

  /** The namespace account (user or organization); `kind` narrows it. Unknown: not_found. */
  async namespace(name: string, kind?: 'org' | 'user'): Promise<{ id: number; name: string; kind: string }> {
    const a = await findAccount(this.db, name);
    if (!a || a.kind === 'robot' || (kind && a.kind !== kind))
      throw notFound(`${kind === 'org' ? 'organization' : kind === 'user' ? 'user' : 'namespace'} "${name.slice(0, 100)}" does not exist`);
    return a;
  }

  async list(namespace: string): Promise<QuotaView[]> {
    const ns = await this.namespace(namespace);
    const q = await this.db.selectFrom('namespace_quota').selectAll().where('namespace_id', '=', ns.id).execute();
    return Promise.all(q.map((r) => this.view(r)));
  }

  async get(namespace: string, quotaId: string): Promise<QuotaView> {
    return this.view(await this.quotaRow(namespace, quotaId));
  }

  async create(namespace: string, limitBytes: number, existsMessage: string): Promise<QuotaView> {
    const ns = await this.namespace(namespace);
    const bytes = requireLimitBytes(limitBytes);
    const have = await this.db.selectFrom('namespace_quota').select('id').where('namespace_id', '=', ns.id).executeTakeFirst();
    if (have) throw invalid(existsMessage);
    const row = await this.db
      .insertInto('namespace_quota')
      .values({ namespace_id: ns.id, limit_bytes: bytes, created_at: this.now() })
      .onConflict((oc) => oc.column('namespace_id').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw invalid(existsMessage);
    return this.view(row);
  }

  async update(namespace: string, quotaId: string, limitBytes: number): Promise<QuotaView> {
    const q = await this.quotaRow(namespace, quotaId);
    const bytes = requireLimitBytes(limitBytes);
    await this.db.updateTable('namespace_quota').set({ limit_bytes: bytes }).where('id', '=', q.id).execute();
    return this.view({ ...q, limit_bytes: bytes });
  }

  async delete(namespace: string, quotaId: string): Promise<void> {
    const q = await this.quotaRow(namespace, quotaId);
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('quota_limit').where('quota_id', '=', q.id).execute();
      await tx.deleteFrom('namespace_quota').where('id', '=', q.id).execute();
    });
  }

  async listLimits(namespace: string, quotaId: string): Promise<LimitView[]> {
    const q = await this.quotaRow(namespace, quotaId);
    return this.limits(q.id);
  }

  async getLimit(namespace: string, quotaId: string, limitId: string): Promise<LimitView> {
    const q = await this.quotaRow(namespace, quotaId);
    return limitView(await this.limitRow(q.id, limitId));
  }

  async createLimit(namespace: string, quotaId: string, body: { type: unknown; threshold_percent: unknown }): Promise<LimitView> {
    const q = await this.quotaRow(namespace, quotaId);
    const type = requireLimitType(body.type);
    const percent = requireThreshold(body.threshold_percent);
    return this.db.transaction().execute(async (tx) => {
      await this.refuseDuplicate(tx, q.id, type, percent);
      const row = await tx
        .insertInto('quota_limit')
        .values({ quota_id: q.id, type, threshold_percent: percent, created_at: this.now() })
        .returningAll()
        .executeTakeFirstOrThrow();
      return limitView(row);
    });
  }

  async updateLimit(
    namespace: string,
    quotaId: string,
    limitId: string,
    body: { type?: unknown; threshold_percent?: unknown },
  ): Promise<QuotaView> {
    const q = await this.quotaRow(namespace, quotaId);
    const l = await this.limitRow(q.id, limitId);
    const type = body.type === undefined ? l.type : requireLimitType(body.type);
    const percent = body.threshold_percent === undefined ? Number(l.threshold_percent) : requireThreshold(body.threshold_percent);
    await this.db.transaction().execute(async (tx) => {
      await this.refuseDuplicate(tx, q.id, type, percent, l.id);
      await tx.updateTable('quota_limit').set({ type, threshold_percent: percent }).where('id', '=', l.id).execute();
    });
    return this.view(q);
  }

  async deleteLimit(namespace: string, quotaId: string, limitId: string): Promise<void> {
    const q = await this.quotaRow(namespace, quotaId);
    const l = await this.limitRow(q.id, limitId);
    await this.db.deleteFrom('quota_limit').where('id', '=', l.id).execute();
  }

  /** Quay's quota_report of a namespace (organization or user responses). */
  async namespaceReport(namespace: string): Promise<NamespaceQuotaReport> {
    const [row, force] = await Promise.all([this.usage.namespaceRow(namespace), limitsInForce(this.db, this.settings, namespace)]);
    const status = row?.backfill_complete ? 'complete' : 'waiting';
    const used = row?.size_bytes ?? 0;
    return {
      quota_bytes: used,
      configured_quota: force.limitBytes,
      running_backfill: status,
      backfill_status: status,
      severity_level: crossedLimit(force, used)?.type ?? null,
      percent_consumed: force.limitBytes ? Math.round((used * 1000) / force.limitBytes) / 10 : null,
    };
  }

  /** Quay's quota_report of repositories (by full name), with their namespace's configured quota. */
  async repositoryReports(names: string[]): Promise<Map<string, RepositoryQuotaReport>> {
    const repos: { id: number; name: string }[] = [];
    for (let i = 0; i < names.length; i += 500) {
      const part = names.slice(i, i + 500);
      if (part.length) repos.push(...(await this.db.selectFrom('repository').select(['id', 'name']).where('name', 'in', part).execute()));
    }
    const sizes = await this.usage.repositoryBytes(repos.map((r) => Number(r.id)));
    const configured = new Map<string, number | null>();
    for (const ns of new Set(repos.map((r) => namespaceOfRepository(r.name))))
      configured.set(ns, (await limitsInForce(this.db, this.settings, ns)).limitBytes);
    return new Map(
      repos.map((r) => [
        r.name,
        { quota_bytes: sizes.get(Number(r.id)) ?? 0, configured_quota: configured.get(namespaceOfRepository(r.name)) ?? null },
      ]),
    );
  }

  private async refuseDuplicate(tx: DB, quotaId: number, type: QuotaLimitType, percent: number, except?: number): Promise<void> {
    const rows = await tx.selectFrom('quota_limit').select(['id', 'type', 'threshold_percent']).where('quota_id', '=', quotaId).execute();
    const others = rows.filter((r) => r.id !== except);
    if (others.some((r) => r.type === type && Number(r.threshold_percent) === percent)) throw invalid('Quota limit already exists');
    if (type === 'Reject' && others.some((r) => r.type === 'Reject')) throw invalid("Only one quota limit of type 'Reject' allowed.");
  }

  private async quotaRow(namespace: string, quotaId: string) {
    const ns = await this.namespace(namespace);
    const id = requireId(quotaId, 'quota');
    const q = await this.db
      .selectFrom('namespace_quota')
      .selectAll()
      .where('id', '=', id)
      .where('namespace_id', '=', ns.id)
      .executeTakeFirst();
    if (!q) throw notFound(`quota ${id} of namespace "${namespace}" does not exist`);
    return q;
  }

  private async limitRow(quotaId: number, limitId: string) {
    const id = requireId(limitId, 'quota limit');
    const l = await this.db.selectFrom('quota_limit').selectAll().where('id', '=', id).where('quota_id', '=', quotaId).executeTakeFirst();
    if (!l) throw notFound(`quota limit ${id} does not exist`);
    return l;
  }

  private async limits(quotaId: number): Promise<LimitView[]> {
    const rows = await this.db.selectFrom('quota_limit').selectAll().where('quota_id', '=', quotaId).orderBy('id').execute();
    return rows.map(limitView);
  }

  private async view(q: { id: number; limit_bytes: number }): Promise<QuotaView> {
    const bytes = Number(q.limit_bytes);
    return {
      id: Number(q.id),
      limit_bytes: bytes,
      limit: humanBytes(bytes),
      default_config: false,
      limits: await this.limits(Number(q.id)),
      default_config_exists: this.settings.defaultRejectBytes > 0,
    };
  }
}

function limitView(l: { id: number; type: QuotaLimitType; threshold_percent: number }): LimitView {
  return { id: Number(l.id), type: l.type, limit_percent: Number(l.threshold_percent) };
}
