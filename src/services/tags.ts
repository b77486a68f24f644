// Tags of a repository for the REST API: paged listing (active tags or the whole history, filtered by
// name), move to another manifest, delete, restore from history.
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { requireDigest } from '../oci/digest.js';
import { isValidTag } from '../oci/names.js';
import { isIndexType } from '../oci/mediatypes.js';
import { retryOnConflict } from '../db/retry.js';
import { AccountError } from './accounts/errors.js';
import type { ServiceContext } from './context.js';
import { apiRepositoryId } from './repositories.js';
import { removeTag, setTag, setTagExpiry } from './tag-history.js';
import { activeTag } from './tag-expiry.js';
import { immutableBy, rulesOf } from './tag-rules.js';
import { ImmutabilityPolicyService } from './immutability-policies.js';

/** The furthest ahead an expiration may be set: 104 weeks (Quay's LABELED_EXPIRATION_MAXIMUM default). */
const MAX_EXPIRATION_MS = 104 * 7 * 86400 * 1000;
import { CacheGroups } from '../cache/types.js';
import { invalidateAfter } from '../cache/invalidation.js';

export interface TagView {
  name: string;
  manifest_digest: string;
  size: number | null;
  last_modified: string;
  start_ts: number;
  is_manifest_list: boolean;
  end_ts?: number;
  expiration?: string;
  reversion?: boolean;
  /** Whether an immutability rule of the repository covers the tag's name (Quay's `immutable`). */
  immutable?: boolean;
}

/** Quay's filter_tag_name: `like:<part of a name>` or `eq:<name>`. */
export interface TagNameFilter {
  op: 'like' | 'eq';
  value: string;
}

export interface TagListOptions {
  limit: number;
  page: number;
  /** false: the history too (tags moved or deleted within DEFAULT_TAG_EXPIRATION), with end_ts. */
  onlyActive?: boolean;
  specificTag?: string;
  filter?: TagNameFilter;
}

export function parseTagNameFilter(text: string): TagNameFilter {
  const m = /^(like|eq):(.*)$/s.exec(text);
  if (!m || m[2].length === 0 || m[2].length > 128) {
    throw new AccountError(
      'invalid',
      `filter_tag_name "${text.slice(0, 140)}" must be like:<part of a tag name> or eq:<tag name> (1 to 128 characters)`,
    );
  }
  return { op: m[1] as 'like' | 'eq', value: m[2] };
}

/** A LIKE pattern that matches `value` anywhere, with the LIKE wildcards of the value taken literally ("!" escapes). */
function containsPattern(value: string): string {
  return `%${value.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

const isIndex = (mediaType: string | null) => !!mediaType && isIndexType(mediaType);

export class TagService {
  /** The repository's immutability policies (docs/TAGS.md). */
  readonly policies: ImmutabilityPolicyService;
  constructor(private readonly ctx: ServiceContext) {
    this.policies = new ImmutabilityPolicyService(ctx);
    invalidateAfter<TagService>(this, ctx.cache, ['move', 'restore', 'delete', 'setExpiration'], (a) => [CacheGroups.tags(a[0] as string)]);
  }

  private repoId(repository: string): Promise<number> {
    return apiRepositoryId(this.ctx.db, repository);
  }

  async list(repository: string, o: TagListOptions): Promise<{ tags: TagView[]; page: number; has_additional: boolean }> {
    const id = await this.repoId(repository);
    const byName = (column: 'tag.name' | 'h.name') => (eb: ExpressionBuilder<any, any>) => {
      const c: Expression<SqlBool>[] = [];
      if (o.specificTag !== undefined) c.push(eb(column, '=', o.specificTag));
      if (o.filter?.op === 'eq') c.push(eb(column, '=', o.filter.value));
      if (o.filter?.op === 'like') c.push(sql<SqlBool>`lower(${sql.ref(column)}) like ${containsPattern(o.filter.value)} escape '!'`);
      return eb.and(c);
    };
    const offset = (o.page - 1) * o.limit;
    let tags: TagView[];
    let more: boolean;
    if (o.onlyActive !== false) {
      const rows = await this.ctx.db
        .selectFrom('tag')
        .innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
        .select(['tag.name', 'tag.updated_at', 'tag.expires_at', 'manifest.digest', 'manifest.size', 'manifest.media_type'])
        .where('tag.repository_id', '=', id)
        .where(activeTag(this.ctx.now()))
        .where(byName('tag.name'))
        .orderBy('tag.updated_at', 'desc')
        .orderBy('tag.name')
        .limit(o.limit + 1)
        .offset(offset)
        .execute();
      more = rows.length > o.limit;
      tags = rows.slice(0, o.limit).map((r) => {
        const v: TagView = {
          name: r.name,
          manifest_digest: r.digest,
          size: r.size,
          last_modified: new Date(r.updated_at).toUTCString(),
          start_ts: Math.floor(r.updated_at / 1000),
          is_manifest_list: isIndex(r.media_type),
        };
        if (r.expires_at != null) {
          v.end_ts = Math.floor(Number(r.expires_at) / 1000);
          v.expiration = new Date(Number(r.expires_at)).toUTCString();
        }
        return v;
      });
    } else {
      // The whole history: open lifetimes (the active tags) and ended ones, newest first. The manifest may be gone.
      const rows = await this.ctx.db
        .selectFrom('tag_history as h')
        .leftJoin('manifest as m', (j) => j.onRef('m.repository_id', '=', 'h.repository_id').onRef('m.digest', '=', 'h.manifest_digest'))
        .select(['h.id', 'h.name', 'h.manifest_digest', 'h.start_ts', 'h.end_ts', 'm.size', 'm.media_type'])
        .where('h.repository_id', '=', id)
        .where(byName('h.name'))
        .orderBy('h.start_ts', 'desc')
        .orderBy('h.id', 'desc')
        .limit(o.limit + 1)
        .offset(offset)
        .execute();
      more = rows.length > o.limit;
      tags = rows.slice(0, o.limit).map((r) => {
        const v: TagView = {
          name: r.name,
          manifest_digest: r.manifest_digest,
          size: r.size ?? null,
          last_modified: new Date(Number(r.start_ts)).toUTCString(),
          start_ts: Math.floor(Number(r.start_ts) / 1000),
          is_manifest_list: isIndex(r.media_type ?? null),
        };
        if (r.end_ts !== null) {
          v.end_ts = Math.floor(Number(r.end_ts) / 1000);
          v.expiration = new Date(Number(r.end_ts)).toUTCString();
        }
        return v;
      });
    }
    const rules = await rulesOf(this.ctx.db, id);
    for (const t of tags) t.immutable = !!immutableBy(rules, t.name);
    return { tags, page: o.page, has_additional: more };
  }

  /** Points a tag (new or existing) at a manifest already in the repository. */
  /** Points a tag at a manifest; returns the digest it pointed at before (undefined: the tag is new). */
  async move(repository: string, tag: string, digest: string): Promise<{ previous?: string }> {
    const { id, manifestId } = await this.target(repository, tag, digest);
    const before = await this.ctx.db
      .selectFrom('tag')
      .innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
      .select('manifest.digest')
      .where('tag.repository_id', '=', id)
      .where('tag.name', '=', tag)
      .where(activeTag(this.ctx.now()))
      .executeTakeFirst();
    await this.point(id, tag, manifestId, digest);
    return { previous: before?.digest };
  }

  /** Restores a tag to a manifest it (or any tag) pointed at: refused when that manifest is gone. */
  async restore(repository: string, tag: string, digest: string): Promise<void> {
    const { id, manifestId } = await this.target(repository, tag, digest, async (repoId) => {
      const known = await this.ctx.db
        .selectFrom('tag_history')
        .select('id')
        .where('repository_id', '=', repoId)
        .where('manifest_digest', '=', digest)
        .executeTakeFirst();
      return known
        ? `manifest ${digest} no longer exists in repository "${repository}" (deleted or garbage-collected), so tag "${tag}" cannot be restored to it`
        : `manifest ${digest} is not in repository "${repository}" (never pushed there, or its history has expired)`;
    });
    await this.point(id, tag, manifestId, digest);
  }

  async delete(repository: string, tag: string): Promise<void> {
    const id = await this.repoId(repository);
    const removed = await this.ctx.db.transaction().execute((tx) => removeTag(tx, id, tag, this.ctx.now()));
    if (!removed) throw new AccountError('not_found', `tag "${tag.slice(0, 130)}" is not in repository "${repository}"`);
  }

  /**
   * Sets when a tag expires (`expiration`: seconds since the epoch, in the future, at most 104 weeks ahead, as
   * Quay's LABELED_EXPIRATION_MAXIMUM) or clears it (null). Refused for an immutable tag.
   */
  async setExpiration(repository: string, tag: string, expiration: number | null): Promise<{ previous: number | null }> {
    if (!isValidTag(tag)) throw new AccountError('not_found', `tag "${tag.slice(0, 130)}" is not in repository "${repository}"`);
    const now = this.ctx.now();
    let at: number | null = null;
    if (expiration !== null) {
      if (!Number.isFinite(expiration))
        throw new AccountError('invalid', 'expiration must be a number of seconds since the epoch, or null');
      at = Math.round(expiration * 1000);
      if (at <= now)
        throw new AccountError('invalid', `expiration ${expiration} (${new Date(at).toISOString()}) is in the past; give a future time`);
      if (at > now + MAX_EXPIRATION_MS)
        throw new AccountError('invalid', `expiration ${expiration} is more than 104 weeks ahead (the longest a tag may be set to last)`);
    }
    const id = await this.repoId(repository);
    const previous = await this.ctx.db
      .selectFrom('tag')
      .select('expires_at')
      .where('repository_id', '=', id)
      .where('name', '=', tag)
      .where(activeTag(now))
      .executeTakeFirst();
    const done = await this.ctx.db.transaction().execute((tx) => setTagExpiry(tx, id, tag, at, now));
    if (!done) throw new AccountError('not_found', `tag "${tag}" is not in repository "${repository}"`);
    return { previous: previous?.expires_at == null ? null : Math.floor(Number(previous.expires_at) / 1000) };
  }

  private async target(
    repository: string,
    tag: string,
    digest: string,
    missing?: (repoId: number) => Promise<string>,
  ): Promise<{ id: number; manifestId: number }> {
    if (!isValidTag(tag))
      throw new AccountError(
        'invalid',
        `invalid tag "${tag.slice(0, 130)}": at most 128 characters of [A-Za-z0-9_.-], not starting with "." or "-"`,
      );
    try {
      requireDigest(digest);
    } catch {
      throw new AccountError(
        'invalid',
        `manifest_digest "${digest.slice(0, 100)}" is not a valid digest (expected sha256:<64 hex digits>)`,
      );
    }
    const id = await this.repoId(repository);
    const m = await this.ctx.db
      .selectFrom('manifest')
      .select('id')
      .where('repository_id', '=', id)
      .where('digest', '=', digest)
      .executeTakeFirst();
    if (!m) throw new AccountError('not_found', missing ? await missing(id) : `manifest ${digest} is not in repository "${repository}"`);
    return { id, manifestId: m.id };
  }

  private async point(repositoryId: number, tag: string, manifestId: number, digest: string): Promise<void> {
    await retryOnConflict(() =>
      this.ctx.db
        .transaction()
        .execute((tx) => setTag(tx, { repositoryId, name: tag, manifestId, digest, now: this.ctx.now(), refusal: 'move' })),
    );
  }
}
