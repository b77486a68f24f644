// Paged listings: the tags of a repository and the catalog of repositories.
import { RegistryError } from '../oci/errors.js';
import { lexical } from '../db/sql-dialect.js';
import type { ServiceContext } from './context.js';
import { requireRepository } from './repositories.js';
import { activeTag } from './tag-expiry.js';

export interface Page<T> {
  items: T[];
  next?: string;
}

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

  async tags(repository: string, n: number | undefined, last: string | undefined): Promise<Page<string>> {
    const repo = await requireRepository(this.ctx.db, repository);
    const order = lexical(this.ctx.dialect, 'name');
    let q = this.ctx.db.selectFrom('tag').select('name').where('repository_id', '=', repo.id).where(activeTag(this.ctx.now()));
    if (last) q = q.where(order as never, '>', last as never);
    return this.page(q.orderBy(order as never), n);
  }

  /** `visibleIds` (accounts): only these repositories are listed; undefined lists all. */
  async catalog(n: number | undefined, last: string | undefined, visibleIds?: number[]): Promise<Page<string>> {
    const order = lexical(this.ctx.dialect, 'name');
    let q = this.ctx.db.selectFrom('repository').select('name');
    if (visibleIds) q = q.where('id', 'in', visibleIds.length ? visibleIds : [-1]);
    if (last) q = q.where(order as never, '>', last as never);
    return this.page(q.orderBy(order as never), n);
  }

  private async page(
    q: { limit(n: number): { execute(): Promise<{ name: string }[]> } },
    requested: number | undefined,
  ): Promise<Page<string>> {
    const n = requested ?? this.ctx.config.listPageMax;
    const rows = (await q.limit(n + 1).execute()).map((r) => r.name);
    if (rows.length > n) {
      const items = rows.slice(0, n);
      return { items, next: items[items.length - 1] };
    }
    return { items: rows };
  }
}
