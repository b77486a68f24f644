// Pull statistics (Quay's tag and manifest pull counts and last-pulled times). A pull only increments a
// counter, in Redis (PULL_METRICS_REDIS: shared by replicas) or in this process (no Redis, or Redis down);
// every PULL_METRICS_FLUSH_SECONDS the counters are taken and added to the database in one transaction
// per batch, so a pull never writes to the database on its own. Redis keys:
//   berth:pulls:count  HASH "<repository id>\t<tag or empty>\t<digest>" -> pulls
//   berth:pulls:last   HASH same field -> epoch ms of the last pull
// A flush reads and deletes both hashes in one MULTI, so two replicas never flush the same pulls.
import { sql } from 'kysely';
import type { DB } from '../db/database.js';
import type {} from '../db/types-pull-stats.js';
import { retryOnConflict } from '../db/retry.js';
import type { RedisConnection } from '../cache/redis-connection.js';
import type { CacheLog } from '../cache/types.js';
import { activeTag } from './tag-expiry.js';

export interface PullEvent {
  repositoryId: number;
  tag?: string;
  digest: string;
}

const COUNT_KEY = 'berth:pulls:count';
const LAST_KEY = 'berth:pulls:last';
const CHUNK = 200;

interface Pending {
  count: number;
  last: number;
}

export interface TagPullStatistics {
  tag_name: string;
  tag_pull_count: number;
  last_tag_pull_date: string | null;
  current_manifest_digest: string;
  manifest_pull_count: number;
  last_manifest_pull_date: string | null;
}
export interface ManifestPullStatistics {
  manifest_digest: string;
  manifest_pull_count: number;
  last_manifest_pull_date: string | null;
}

export class PullRecorder {
  private memory = new Map<string, Pending>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<unknown>;
  log?: CacheLog;

  constructor(
    private readonly db: DB,
    private readonly now: () => number,
    private readonly opts: { redis?: RedisConnection; flushSeconds: number },
  ) {}

  /** Counts one pull; never waits for, nor fails on, the database or Redis. */
  record(e: PullEvent): void {
    const field = `${e.repositoryId}\t${e.tag ?? ''}\t${e.digest}`;
    const at = this.now();
    const redis = this.opts.redis;
    if (redis?.up) {
      redis.client
        .multi()
        .hincrby(COUNT_KEY, field, 1)
        .hset(LAST_KEY, field, String(at))
        .exec()
        .then(
          (r) => {
            if (!r || r.some(([err]) => err)) this.remember(field, 1, at);
          },
          () => this.remember(field, 1, at),
        );
    } else this.remember(field, 1, at);
  }

  private remember(field: string, count: number, last: number): void {
    const p = this.memory.get(field);
    if (p) {
      p.count += count;
      p.last = Math.max(p.last, last);
    } else this.memory.set(field, { count, last });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.flush();
    }, this.opts.flushSeconds * 1000);
    this.timer.unref();
  }

  /** Adds everything counted so far to the database; resolves with the number of pull events written. */
  async flush(): Promise<number> {
    while (this.flushing) await this.flushing.catch(() => undefined);
    const run = this.flushOnce();
    this.flushing = run;
    try {
      return await run;
    } finally {
      this.flushing = undefined;
    }
  }

  private async flushOnce(): Promise<number> {
    const batch = this.memory;
    this.memory = new Map();
    const redis = this.opts.redis;
    if (redis?.up) {
      try {
        const r = await redis.client.multi().hgetall(COUNT_KEY).hgetall(LAST_KEY).del(COUNT_KEY, LAST_KEY).exec();
        const counts = (r?.[0]?.[1] ?? {}) as Record<string, string>;
        const lasts = (r?.[1]?.[1] ?? {}) as Record<string, string>;
        for (const [field, n] of Object.entries(counts)) {
          const p = batch.get(field);
          const count = Number(n);
          const last = Number(lasts[field] ?? this.now());
          if (p) {
            p.count += count;
            p.last = Math.max(p.last, last);
          } else batch.set(field, { count, last });
        }
      } catch (e) {
        this.log?.warn(
          { event: 'pull_stats_redis_failed', err: (e as Error).message },
          'could not read pull counts from Redis; they stay there for the next flush',
        );
      }
    }
    if (!batch.size) return 0;
    try {
      await this.write(batch);
    } catch (e) {
      // Keep them for the next flush rather than lose them.
      for (const [field, p] of batch) this.remember(field, p.count, p.last);
      this.log?.warn(
        { event: 'pull_stats_flush_failed', err: (e as Error).message },
        'could not write pull statistics; retrying at the next flush',
      );
      return 0;
    }
    let n = 0;
    for (const p of batch.values()) n += p.count;
    return n;
  }

  private async write(batch: Map<string, Pending>): Promise<void> {
    const tags = new Map<
      string,
      { repository_id: number; tag_name: string; tag_pull_count: number; last_tag_pull_date: number; current_manifest_digest: string }
    >();
    const manifests = new Map<
      string,
      { repository_id: number; manifest_digest: string; manifest_pull_count: number; last_manifest_pull_date: number }
    >();
    for (const [field, p] of batch) {
      const [id, tag, digest] = field.split('\t');
      const repositoryId = Number(id);
      if (!Number.isSafeInteger(repositoryId) || !digest) continue;
      if (tag) {
        const k = `${id}\t${tag}`;
        const t = tags.get(k);
        if (!t)
          tags.set(k, {
            repository_id: repositoryId,
            tag_name: tag,
            tag_pull_count: p.count,
            last_tag_pull_date: p.last,
            current_manifest_digest: digest,
          });
        else {
          t.tag_pull_count += p.count;
          if (p.last >= t.last_tag_pull_date) {
            t.last_tag_pull_date = p.last;
            t.current_manifest_digest = digest;
          }
        }
      }
      const k = `${id}\t${digest}`;
      const m = manifests.get(k);
      if (!m)
        manifests.set(k, {
          repository_id: repositoryId,
          manifest_digest: digest,
          manifest_pull_count: p.count,
          last_manifest_pull_date: p.last,
        });
      else {
        m.manifest_pull_count += p.count;
        m.last_manifest_pull_date = Math.max(m.last_manifest_pull_date, p.last);
      }
    }
    // Same order on every replica: concurrent flushes never deadlock on each other's rows.
    const tagRows = [...tags.values()].sort((a, b) => a.repository_id - b.repository_id || (a.tag_name < b.tag_name ? -1 : 1));
    const manifestRows = [...manifests.values()].sort(
      (a, b) => a.repository_id - b.repository_id || (a.manifest_digest < b.manifest_digest ? -1 : 1),
    );
    const ids = [...new Set(manifestRows.map((m) => m.repository_id))];
    await retryOnConflict(() =>
      this.db.transaction().execute(async (tx) => {
        // Pulls of a repository deleted since are dropped.
        const live = new Set((await tx.selectFrom('repository').select('id').where('id', 'in', ids).execute()).map((r) => r.id));
        const t = tagRows.filter((r) => live.has(r.repository_id));
        const m = manifestRows.filter((r) => live.has(r.repository_id));
        for (let i = 0; i < t.length; i += CHUNK) {
          await tx
            .insertInto('tag_pull_stats')
            .values(t.slice(i, i + CHUNK))
            .onConflict((oc) =>
              oc.columns(['repository_id', 'tag_name']).doUpdateSet({
                tag_pull_count: sql`tag_pull_stats.tag_pull_count + excluded.tag_pull_count`,
                last_tag_pull_date: sql`case when excluded.last_tag_pull_date > tag_pull_stats.last_tag_pull_date then excluded.last_tag_pull_date else tag_pull_stats.last_tag_pull_date end`,
                current_manifest_digest: sql`case when excluded.last_tag_pull_date >= tag_pull_stats.last_tag_pull_date then excluded.current_manifest_digest else tag_pull_stats.current_manifest_digest end`,
              }),
            )
            .execute();
        }
        for (let i = 0; i < m.length; i += CHUNK) {
          await tx
            .insertInto('manifest_pull_stats')
            .values(m.slice(i, i + CHUNK))
            .onConflict((oc) =>
              oc.columns(['repository_id', 'manifest_digest']).doUpdateSet({
                manifest_pull_count: sql`manifest_pull_stats.manifest_pull_count + excluded.manifest_pull_count`,
                last_manifest_pull_date: sql`case when excluded.last_manifest_pull_date > manifest_pull_stats.last_manifest_pull_date then excluded.last_manifest_pull_date else manifest_pull_stats.last_manifest_pull_date end`,
              }),
            )
            .execute();
        }
      }),
    );
  }

  /** Stops the timer and flushes what is left (SIGTERM, close). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }

  /** GET …/tag/{tag}/pull_statistics: undefined when the tag neither exists nor was ever pulled. */
  async tagStatistics(repositoryId: number, tag: string): Promise<TagPullStatistics | undefined> {
    const row = await this.db
      .selectFrom('tag_pull_stats')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .where('tag_name', '=', tag)
      .executeTakeFirst();
    let digest = row?.current_manifest_digest;
    if (!digest) {
      const current = await this.db
        .selectFrom('tag')
        .innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
        .select('manifest.digest')
        .where('tag.repository_id', '=', repositoryId)
        .where('tag.name', '=', tag)
        .where(activeTag(this.now()))
        .executeTakeFirst();
      if (!current) return undefined;
      digest = current.digest;
    }
    const m = await this.manifestStatistics(repositoryId, digest);
    return {
      tag_name: tag,
      tag_pull_count: row?.tag_pull_count ?? 0,
      last_tag_pull_date: row ? iso(row.last_tag_pull_date) : null,
      current_manifest_digest: digest,
      manifest_pull_count: m.manifest_pull_count,
      last_manifest_pull_date: m.last_manifest_pull_date,
    };
  }

  async manifestStatistics(repositoryId: number, digest: string): Promise<ManifestPullStatistics> {
    const row = await this.db
      .selectFrom('manifest_pull_stats')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .where('manifest_digest', '=', digest)
      .executeTakeFirst();
    return {
      manifest_digest: digest,
      manifest_pull_count: row?.manifest_pull_count ?? 0,
      last_manifest_pull_date: row ? iso(row.last_manifest_pull_date) : null,
    };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
