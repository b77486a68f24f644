// Paged listings: the tags of a repository and the catalog of repositories, keyset by keyset in byte order.
// A tag page is one statement (the repository's id by name in a subquery; the repository is looked up on its own
// only when the page is empty, to tell NAME_UNKNOWN), compiled once per dialect (db/prepared.ts). With the
// data-model cache, the repository's whole list is kept (./tag-list.ts) once a client walks past the first page
// or asks for all of it: a walk costs the database one statement for its first page and one for the rest.
import { sql, type Kysely } from 'kysely';
import { RegistryError } from '../oci/errors.js';
import { requireRepositoryName } from '../oci/names.js';
import type { Dialect, DB } from '../db/database.js';
import type { Database } from '../db/types.js';
import { prepared } from '../db/prepared.js';
import { lexical } from '../db/sql-dialect.js';
import { CacheGroups } from '../cache/types.js';
import type { ServiceContext } from './context.js';
import { requireRepository } from './repositories.js';
import { activeTag } from './tag-expiry.js';
import { pageOfList, TAG_LIST_CACHE_MAX, TAG_LIST_KEY, tagListOf, tagListOfNames, type TagList } from './tag-list.js';

export interface Page<T> {
  items: T[];
  next?: string;
}

type TagRow = { name: string; expires_at: number | null };

/** The tag rows of a repository (by name) alive at `now`, in byte order, after `last` when given, at most `limit`. */
function tagQueries(dialect: Dialect) {
  const order = dialect === 'postgres' ? sql`${sql.ref('t.name')} collate "C"` : sql`${sql.ref('t.name')}`;
  const base = (db: Kysely<Database>, repository: string, now: number) =>
    db
      .selectFrom('tag as t')
      .select(['t.name', 't.expires_at'])
      // A scalar subquery, not a join: with the repository id an equality, PostgreSQL reads the (repository_id,
      // name collate "C") index in order and stops at the limit; a join loses that order and sorts every tag.
      .where('t.repository_id', '=', (eb) => eb.selectFrom('repository').select('id').where('name', '=', repository))
      .where(activeTag(now, 't'));
  return {
    first: prepared(3, (db: DB, repository: string, now: number, limit: number) =>
      base(db, repository, now)
        .orderBy(order as never)
        .limit(limit),
    ),
    // PostgreSQL: the same rows as two JSON values in one row (the names; [name, expires_at] of the expiring ones),
    // which the driver parses in one JSON.parse each instead of building 2,500 row objects (about 1 ms of CPU less
    // per 2,500 tags). json_agg keeps the order of its ordered subquery; tagListOfNames checks it all the same.
    aggregated: prepared(3, (db: DB, repository: string, now: number, limit: number) =>
      db
        .selectFrom(
          base(db, repository, now)
            .orderBy(order as never)
            .limit(limit)
            .as('s'),
        )
        .select([
          sql<string[] | null>`json_agg(s.name)`.as('names'),
          sql<[string, number][] | null>`json_agg(json_build_array(s.name, s.expires_at)) filter (where s.expires_at is not null)`.as(
            'expiring',
          ),
        ]),
    ),
    after: prepared(4, (db: DB, repository: string, now: number, last: string, limit: number) =>
      base(db, repository, now)
        .where(order as never, '>', last as never)
        .orderBy(order as never)
        .limit(limit),
    ),
  };
}
const TAG_QUERIES = { sqlite: tagQueries('sqlite'), postgres: tagQueries('postgres') };

/** Catalog pages of every repository (no visibility filter: an open registry), compiled once per dialect. */
function catalogQueries(dialect: Dialect) {
  const order = lexical(dialect, 'name');
  return {
    first: prepared(1, (db: DB, limit: number) =>
      db
        .selectFrom('repository')
        .select('name')
        .orderBy(order as never)
        .limit(limit),
    ),
    after: prepared(2, (db: DB, last: string, limit: number) =>
      db
        .selectFrom('repository')
        .select('name')
        .where(order as never, '>', last as never)
        .orderBy(order as never)
        .limit(limit),
    ),
  };
}
const CATALOG_QUERIES = { sqlite: catalogQueries('sqlite'), postgres: catalogQueries('postgres') };

export class ListingService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Validates `n`: a non-negative integer, capped at the configured maximum. */
  pageSize(n: string | undefined): number | undefined {
    if (n === undefined || n === '') return undefined;
    if (!/^\d+$/.test(n))
      throw new RegistryError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, not "${n.slice(0, 50)}"`, {
        n: n.slice(0, 50),
      });
    return Math.min(Number(n), this.ctx.config.listPageMax);
  }

  /**
   * The `last` of a request as the keyset: none when absent or empty; the first of repeated ones (as Go's
   * url.Values.Get, distribution's reading); cut at a NUL, which no name contains and PostgreSQL cannot take in
   * text: for names without NUL, "name > x + NUL + y" is "name > x".
   */
  lastOf(raw: unknown): string | undefined {
    const v = Array.isArray(raw) ? raw[0] : raw;
    if (typeof v !== 'string' || v === '') return undefined;
    const nul = v.indexOf('\0');
    return nul < 0 ? v : nul === 0 ? undefined : v.slice(0, nul);
  }

  async tags(repository: string, requested: number | undefined, last: string | undefined): Promise<Page<string>> {
    requireRepositoryName(repository);
    const n = requested ?? this.ctx.config.listPageMax;
    const now = this.ctx.now();
    const cache = this.ctx.cache;
    if (!cache) return this.tagPage(repository, now, n, last);
    // A first page of a given size does not load the whole list: a client that asks for n names may want no more.
    let direct: Page<string> | undefined;
    const list = await cache.fetch<TagList>(CacheGroups.tags(repository), TAG_LIST_KEY, async () => {
      if (requested !== undefined && last === undefined) {
        direct = await this.tagPage(repository, now, n, last);
        return undefined;
      }
      return this.loadTagList(repository, now);
    });
    if (direct) return direct;
    if (!list?.names) return this.tagPage(repository, now, n, last);
    return pageOfList(list, now, n, last);
  }

  /** The repository's whole list (up to TAG_LIST_CACHE_MAX + 1 names) from the database. */
  private async loadTagList(repository: string, now: number): Promise<TagList> {
    if (this.ctx.dialect !== 'postgres') return tagListOf(await this.tagRows(repository, now, TAG_LIST_CACHE_MAX + 1, undefined));
    const { rows } = await TAG_QUERIES.postgres.aggregated(this.ctx.db, repository, now, TAG_LIST_CACHE_MAX + 1);
    const names = (rows[0]?.names as string[] | null) ?? [];
    if (names.length === 0) await requireRepository(this.ctx.db, repository);
    return tagListOfNames(names, (rows[0]?.expiring as [string, number][] | null) ?? []);
  }

  /** One page from the database. */
  private async tagPage(repository: string, now: number, n: number, last: string | undefined): Promise<Page<string>> {
    return pageOf(
      (await this.tagRows(repository, now, n + 1, last)).map((r) => r.name),
      n,
    );
  }

  /** Up to `limit` tag rows after `last`; none: the repository is looked up (NAME_UNKNOWN when it does not exist). */
  private async tagRows(repository: string, now: number, limit: number, last: string | undefined): Promise<TagRow[]> {
    const q = TAG_QUERIES[this.ctx.dialect];
    const { rows } =
      last === undefined ? await q.first(this.ctx.db, repository, now, limit) : await q.after(this.ctx.db, repository, now, last, limit);
    if (rows.length === 0) await requireRepository(this.ctx.db, repository);
    return rows as TagRow[];
  }

  /** `visibleIds` (accounts): only these repositories are listed; undefined lists all. */
  async catalog(requested: number | undefined, last: string | undefined, visibleIds?: number[]): Promise<Page<string>> {
    const n = requested ?? this.ctx.config.listPageMax;
    if (!visibleIds) {
      const q = CATALOG_QUERIES[this.ctx.dialect];
      const { rows } = last === undefined ? await q.first(this.ctx.db, n + 1) : await q.after(this.ctx.db, last, n + 1);
      return pageOf(
        rows.map((r) => r.name),
        n,
      );
    }
    // The visible set varies in length: built per request.
    const order = lexical(this.ctx.dialect, 'name');
    let q = this.ctx.db
      .selectFrom('repository')
      .select('name')
      .where('id', 'in', visibleIds.length ? visibleIds : [-1]);
    if (last) q = q.where(order as never, '>', last as never);
    const rows = await q
      .orderBy(order as never)
      .limit(n + 1)
      .execute();
    return pageOf(
      rows.map((r) => r.name),
      n,
    );
  }
}

/** `n` names of up to n + 1 read: the Link's `last` is the page's last name when there are more. */
function pageOf(names: string[], n: number): Page<string> {
  if (names.length > n) {
    const items = names.slice(0, n);
    return { items, next: items[items.length - 1] };
  }
  return { items: names };
}
