// Tag expiration: a tag whose lifetime ends at `tag.expires_at` (its history row carries the same end_ts) is
// gone from that moment for every reader, with no worker: each query of active tags filters with `activeTag`.
// The `quay.expires-after` label of an image's config sets it at push time (Quay's label handler).
import type { ExpressionBuilder } from 'kysely';
import type { BlobStore } from '../storage/blobstore.js';
import { readSmallBlob } from '../storage/read-blob.js';

/** The condition "this tag row is alive at `now`" for the `tag` table (or an alias of it). */
export function activeTag(now: number, table = 'tag') {
  return (eb: ExpressionBuilder<any, any>) => eb.or([eb(`${table}.expires_at`, 'is', null), eb(`${table}.expires_at`, '>', now)]);
}

/** The condition "this lifetime has not ended at `now`" for `tag_history` (or an alias of it). */
export function openLifetime(now: number, table = 'tag_history') {
  return (eb: ExpressionBuilder<any, any>) => eb.or([eb(`${table}.end_ts`, 'is', null), eb(`${table}.end_ts`, '>', now)]);
}

export const EXPIRES_AFTER_LABEL = 'quay.expires-after';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Quay's convert_to_timedelta: a whole number and one unit of s, m, h, d or w ("2h", "3d", "2w"); else undefined. */
export function parseExpiresAfter(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d{1,9})\s*([smhdw])\s*$/.exec(value);
  if (!m) return undefined;
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]];
  return seconds > 0 ? seconds : undefined;
}

/** The `quay.expires-after` label of an image config (OCI or Docker: `config.Labels`), in seconds; else undefined. */
export function expiresAfterOfConfig(config: Uint8Array): number | undefined {
  try {
    const c = JSON.parse(Buffer.from(config).toString('utf8')) as { config?: { Labels?: Record<string, unknown> | null } };
    return parseExpiresAfter(c?.config?.Labels?.[EXPIRES_AFTER_LABEL]);
  } catch {
    return undefined;
  }
}

const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * The label's value (seconds, or undefined: none) per config digest read so far. A digest names its content, so an
 * entry never goes stale whichever store or process read it; pushes of many tags over one config (and every image
 * of a multi-tag push) read the config once instead of once per manifest PUT. Bounded: cleared at 4096 entries.
 */
const labelOfConfig = new Map<string, number | undefined>();
const LABEL_CACHE_MAX = 4096;

/**
 * When a push by tag of this image should expire (ms), from its config's quay.expires-after label; undefined
 * when there is no such label (or it is malformed, as Quay ignores it), for an index (no config) and for
 * artifacts whose config is not an image config.
 */
export async function labelledExpiry(
  store: BlobStore,
  config: { mediaType: string; digest: string; size: number } | undefined,
  now: number,
): Promise<number | undefined> {
  if (!config || !IMAGE_CONFIG_TYPES.has(config.mediaType) || config.size > MAX_CONFIG_BYTES) return undefined;
  let seconds: number | undefined;
  if (labelOfConfig.has(config.digest)) seconds = labelOfConfig.get(config.digest);
  else {
    try {
      seconds = expiresAfterOfConfig(await readSmallBlob(store, config.digest, MAX_CONFIG_BYTES, config.size));
    } catch {
      return undefined; // not stored (the push is refused below for that) or unreadable: no label, not remembered
    }
    if (labelOfConfig.size >= LABEL_CACHE_MAX) labelOfConfig.clear();
    labelOfConfig.set(config.digest, seconds);
  }
  return seconds === undefined ? undefined : now + seconds * 1000;
}
