// A repository's whole tag list, kept in the data-model cache beside its manifests by tag (group
// `tags:<repository>`, which every tag write invalidates on every replica: manifest put and delete, tag move,
// restore, delete and expiration, immutability policies, repository delete, proxy-cache stores), so that the
// pages of a walk after its first, and whole-list requests, are answered without the database. An expiring tag
// is kept with its end and left out of every page from that moment, as `activeTag` leaves it out of queries.
import type { Page } from './listing.js';

/** The cache key of the list in its group: a tag name cannot contain ':', so it never meets a manifest entry. */
export const TAG_LIST_KEY = ':list';

/** Lists longer than this are not kept (their pages come from the database, keyset by keyset). */
export const TAG_LIST_CACHE_MAX = 10_000;

export interface TagList {
  /**
   * The active tag names in byte order; null when there are more than TAG_LIST_CACHE_MAX or a name is not
   * printable ASCII (JavaScript compares strings by UTF-16 code unit, which is byte order for ASCII only).
   */
  names: string[] | null;
  /** Names with an expiry, and when it comes (ms). */
  expiring: [string, number][];
  /** Its weight in the in-memory store's bound (src/cache/memory.ts): one unit per ten names. */
  cacheWeight: number;
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

const NOT_CACHED: TagList = { names: null, expiring: [], cacheWeight: 1 };

/** The list of rows read in byte order (at most TAG_LIST_CACHE_MAX + 1 of them, to tell a longer list). */
export function tagListOf(rows: { name: string; expires_at: number | null }[]): TagList {
  if (rows.length > TAG_LIST_CACHE_MAX) return NOT_CACHED;
  const names = new Array<string>(rows.length);
  const expiring: [string, number][] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    names[i] = r.name;
    if (r.expires_at !== null) expiring.push([r.name, Number(r.expires_at)]);
  }
  return tagListOfNames(names, expiring);
}

/** The list of names read in byte order (at most TAG_LIST_CACHE_MAX + 1) and the expiring ones among them. */
export function tagListOfNames(names: string[], expiring: [string, number][]): TagList {
  if (names.length > TAG_LIST_CACHE_MAX) return NOT_CACHED;
  // One test over all the names (cheaper than one per name).
  if (!PRINTABLE_ASCII.test(names.join(''))) return NOT_CACHED;
  for (let i = 1; i < names.length; i++) if (!(names[i - 1] < names[i])) return NOT_CACHED; // not in order: never kept
  return { names, expiring: expiring.map(([n, at]) => [n, Number(at)]), cacheWeight: 1 + names.length / 10 };
}

/** The page of `n` names after `last` (the spec's keyset), at `now`. `list.names` must not be null. */
export function pageOfList(list: TagList, now: number, n: number, last: string | undefined): Page<string> {
  let names = list.names!;
  if (list.expiring.length) {
    const gone = new Set<string>();
    for (const [name, at] of list.expiring) if (at <= now) gone.add(name);
    if (gone.size) names = names.filter((x) => !gone.has(x));
  }
  // The first name after `last`: a binary search.
  let lo = 0;
  if (last !== undefined) {
    let hi = names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (names[mid] > last) hi = mid;
      else lo = mid + 1;
    }
  }
  const items = names.slice(lo, lo + n);
  return n > 0 && lo + n < names.length ? { items, next: items[n - 1] } : { items };
}
