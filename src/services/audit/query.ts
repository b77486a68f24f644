// Reading the audit log in Quay's shapes: pages of entries (newest first by (created_at, id), LOGS_PER_PAGE = 20, an
// opaque next_page token naming the last entry's time and id: keyset paging, served in order by an index), counts per
// kind and day (aggregatelogs), and a whole range as JSON lines (export).
import { sql } from 'kysely';
import type { DB } from '../../db/database.js';
import type { AuditLog } from './log.js';
import { isLogKind } from './kinds.js';

export const LOGS_PER_PAGE = 20;
const EXPORT_BATCH = 1000;
const DAY_MS = 86_400_000;
/** Largest range one request may cover (Quay refuses long ranges for aggregates too). */
const MAX_RANGE_DAYS = 366;

export class AuditQueryError extends Error {}

/** Which entries a caller may see: one repository, one namespace (organization or user), or all (superuser). */
export type LogScope = { repository: string } | { namespace: string } | { all: true };

export interface LogFilter {
  start: number;
  end: number;
  performer?: string;
  kinds?: string[];
}

export interface LogView {
  kind: string;
  metadata: Record<string, unknown>;
  ip: string | null;
  datetime: string;
  performer?: { kind: 'user'; name: string; is_robot: boolean };
  namespace?: { kind: 'org' | 'user'; name: string };
}

/** Python's email.utils.formatdate, as Quay's format_date writes times: "Sun, 06 Dec 2026 20:48:43 -0000". */
export function formatDate(ms: number): string {
  return new Date(ms).toUTCString().replace(/ GMT$/, ' -0000');
}

/** One bound of a range: Quay's "%m/%d/%Y" (a UTC day), or an ISO 8601 date-time (Berth: an exact instant). */
function parseTime(text: string, name: string): { ms: number; day: boolean } {
  const t = text.trim();
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(t);
  if (m) {
    const [mo, d, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const ms = Date.UTC(y, mo - 1, d);
    const back = new Date(ms);
    if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d)
      throw new AuditQueryError(`${name} "${t.slice(0, 40)}" is not a real date`);
    return { ms, day: true };
  }
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(t)) {
    const ms = Date.parse(t.length === 10 ? `${t}T00:00:00Z` : t);
    if (Number.isFinite(ms)) return { ms, day: t.length === 10 };
  }
  throw new AuditQueryError(
    `${name} must be a date as MM/DD/YYYY (UTC, as in Quay) or an ISO 8601 date-time such as 2026-12-06T20:00:00Z; got "${t.slice(0, 40)}"`,
  );
}

/**
 * Quay's range rules: no starttime -> one day before now; no endtime -> now; a day-only endtime
 * includes that whole day. An end before the start is refused.
 */
export function parseRange(starttime: string | undefined, endtime: string | undefined, now: number): { start: number; end: number } {
  const start = starttime ? parseTime(starttime, 'starttime').ms : now - DAY_MS;
  let end = now + 1;
  if (endtime) {
    const e = parseTime(endtime, 'endtime');
    end = e.day ? e.ms + DAY_MS : e.ms;
  } else if (starttime && !endtime) end = Math.max(now + 1, start);
  if (end < start) throw new AuditQueryError('endtime is before starttime');
  if (end - start > MAX_RANGE_DAYS * DAY_MS)
    throw new AuditQueryError(`the range is longer than ${MAX_RANGE_DAYS} days; ask for a shorter one`);
  return { start, end };
}

export function parseKinds(text: string | undefined): string[] | undefined {
  if (!text) return undefined;
  const kinds = text
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  for (const k of kinds)
    if (!isLogKind(k)) throw new AuditQueryError(`unknown log kind "${k.slice(0, 60)}" (see docs/AUDIT.md for the list)`);
  return kinds.length ? kinds : undefined;
}

/**
 * Where a page ends: the last entry's time and id. The next page holds the entries before it in the pages' order
 * (created_at, id) descending, which every index the page queries use serves (migration 0024): a page is read
 * from where the index is positioned, never sorted or skipped over (docs/AUDIT.md, "Paging").
 */
export interface PagePosition {
  at: number;
  id: number;
}

function encodeToken(p: PagePosition): string {
  return Buffer.from(JSON.stringify({ v: 2, at: p.at, id: p.id })).toString('base64url');
}

function decodeToken(token: string): PagePosition {
  let o: { v?: unknown; at?: unknown; id?: unknown } | undefined;
  try {
    o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof o;
  } catch {
    /* below */
  }
  if (o && typeof o === 'object' && o.v === 1)
    throw new AuditQueryError('next_page is a page token of an older Berth (ordered by id only); ask for the first page again');
  if (
    o &&
    typeof o === 'object' &&
    o.v === 2 &&
    typeof o.at === 'number' &&
    Number.isSafeInteger(o.at) &&
    o.at >= 0 &&
    typeof o.id === 'number' &&
    Number.isSafeInteger(o.id) &&
    o.id > 0
  )
    return { at: o.at, id: o.id };
  throw new AuditQueryError('next_page is not a page token this server issued');
}

const positionOf = (r: { created_at: number | string; id: number | string }): PagePosition => ({
  at: Number(r.created_at),
  id: Number(r.id),
});

export class AuditQueries {
  constructor(
    private readonly db: DB,
    private readonly log: AuditLog,
  ) {}

  /**
   * The entries of `scope` that `f` selects, or with `after` those of them past that position in the pages' order.
   * created_at gets one upper bound only (the position's time when it lies in the range): the index range then ends
   * where the page starts, whatever the planner makes of two bounds; the equal-time rows before the position's id are
   * the only ones filtered after the index.
   */
  private base(scope: LogScope, f: LogFilter, after?: PagePosition) {
    let q = this.db.selectFrom('audit_log').where('created_at', '>=', f.start);
    if (after && after.at < f.end) {
      const { at, id } = after;
      // A template, not eb.or(): Kysely builds and compiles every page's query anew, and the builder's OR cost ~50 µs.
      q = q.where('created_at', '<=', at).where(sql<boolean>`(created_at < ${at} or id < ${id})`);
    } else q = q.where('created_at', '<', f.end);
    if ('repository' in scope) q = q.where('repository', '=', scope.repository);
    else if ('namespace' in scope) q = q.where('namespace', '=', scope.namespace);
    if (f.performer) q = q.where('performer', '=', f.performer);
    if (f.kinds?.length) q = q.where('kind', 'in', f.kinds);
    return q;
  }

  /** Up to `limit` entries past `after` (from the newest without it), newest first: an index range read in order. */
  private page(scope: LogScope, f: LogFilter, after: PagePosition | undefined, limit: number) {
    return this.base(scope, f, after).selectAll().orderBy(sql`created_at desc, id desc`).limit(limit).execute();
  }

  /** One page, newest first. Entries still in this process's buffer are written first, so a reader sees its own actions. */
  async lookup(
    scope: LogScope,
    f: LogFilter,
    pageToken?: string,
    limit = LOGS_PER_PAGE,
  ): Promise<{ start_time: string; end_time: string; logs: LogView[]; next_page?: string }> {
    await this.log.flush();
    const after = pageToken ? decodeToken(pageToken) : undefined;
    const rows = await this.page(scope, f, after, limit + 1);
    const page = rows.slice(0, limit);
    const views = await this.views(page, 'all' in scope);
    const out: { start_time: string; end_time: string; logs: LogView[]; next_page?: string } = {
      start_time: formatDate(f.start),
      end_time: formatDate(f.end),
      logs: views,
    };
    if (rows.length > limit) out.next_page = encodeToken(positionOf(page[page.length - 1]));
    return out;
  }

  /** Counts per kind and UTC day (Quay's aggregatelogs). */
  async aggregate(scope: LogScope, f: LogFilter): Promise<{ aggregated: { kind: string; count: number; datetime: string }[] }> {
    await this.log.flush();
    const rows = (await this.base(scope, f)
      .select((eb) => ['kind', eb.fn.countAll().as('count'), eb.fn.min('created_at').as('first')])
      .groupBy(['kind', sql`created_at / ${sql.lit(DAY_MS)}`])
      .execute()) as { kind: string; count: number | string | bigint; first: number | string }[];
    const aggregated = rows
      .map((r) => ({ kind: r.kind, count: Number(r.count), datetime: formatDate(Math.floor(Number(r.first) / DAY_MS) * DAY_MS) }))
      .sort((a, b) => Date.parse(a.datetime) - Date.parse(b.datetime) || a.kind.localeCompare(b.kind));
    return { aggregated };
  }

  /** The whole range as JSON lines, newest first, read in batches (never the whole range in memory). */
  async *exportLines(scope: LogScope, f: LogFilter): AsyncGenerator<string> {
    await this.log.flush();
    let after: PagePosition | undefined;
    for (;;) {
      const rows = await this.page(scope, f, after, EXPORT_BATCH);
      if (!rows.length) return;
      const views = await this.views(rows, true);
      for (let i = 0; i < rows.length; i++)
        yield `${JSON.stringify({ id: Number(rows[i].id), ...views[i], repository: rows[i].repository ?? undefined })}\n`;
      if (rows.length < EXPORT_BATCH) return;
      after = positionOf(rows[rows.length - 1]);
    }
  }

  private async views(
    rows: {
      kind: string;
      namespace: string | null;
      performer_kind: string;
      performer: string | null;
      ip: string | null;
      metadata: string;
      created_at: number;
    }[],
    withNamespace: boolean,
  ): Promise<LogView[]> {
    const kinds = new Map<string, 'org' | 'user'>();
    if (withNamespace) {
      const names = [...new Set(rows.map((r) => r.namespace).filter((n): n is string => !!n))];
      if (names.length) {
        for (const a of await this.db.selectFrom('account').select(['name', 'kind']).where('name', 'in', names).execute())
          kinds.set(a.name, a.kind === 'org' ? 'org' : 'user');
      }
    }
    return rows.map((r) => {
      const v: LogView = {
        kind: r.kind,
        metadata: JSON.parse(r.metadata) as Record<string, unknown>,
        ip: r.ip,
        datetime: formatDate(Number(r.created_at)),
      };
      if (r.performer && r.performer_kind !== 'anonymous')
        v.performer = { kind: 'user', name: r.performer, is_robot: r.performer_kind === 'robot' };
      if (withNamespace && r.namespace) v.namespace = { kind: kinds.get(r.namespace) ?? 'user', name: r.namespace };
      return v;
    });
  }
}
