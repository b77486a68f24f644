// Storage usage per namespace and per repository (docs/QUOTAS.md), kept up to date by the registry's writes.
//
// What counts: the blobs (config and layers) of every manifest stored in a repository, tagged or not; each blob
// once per repository and once per namespace (layers shared by repositories of one namespace count once).
// Uploaded blobs that no manifest names yet do not count (gc removes them).
//
// Concurrency: every change takes the namespace's quota_namespace_size row first (an upsert: on PostgreSQL a
// row lock held to the commit; SQLite runs one transaction at a time) and only then reads what the namespace
// holds, so two pushes that share a new layer never both count it. The lock is the last one a transaction takes
// (after its manifest, tag and blob rows), and nothing waits on another lock while holding it, so it cannot
// deadlock with gc or with other pushes. A namespace whose usage was never computed is recounted from scratch
// under the same lock, the first time it changes.
import { sql } from 'kysely';
import type { DB } from '../../db/database.js';
import type { QuotaSettings } from '../../config/schema-quota.js';
import { RegistryError } from '../../oci/errors.js';
import { inNamespace, namespaceOfRepository } from './namespace.js';
import { crossedLimit, limitsInForce } from './limits-lookup.js';
import { formatBytes } from './format.js';

export interface QuotaEvents {
  /** A push crossed a Warning limit (logged and written to the audit log by the composition root). */
  warning?(e: { namespace: string; repository: string; usageBytes: number; limitBytes: number; thresholdPercent: number }): void;
}

export interface RecountResult {
  namespace: string;
  sizeBytes: number;
  previousBytes: number | null;
  repositories: number;
}

/** Which of `digests` a manifest of the repository names as a blob (leaving out the manifest `notManifest`). */
async function blobsInRepository(tx: DB, digests: string[], repositoryId: number, notManifest?: number): Promise<Set<string>> {
  const rows = await tx
    .selectFrom('manifest_ref as r')
    .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
    .select('r.digest')
    .distinct()
    .where('r.kind', '=', 'blob')
    .where('r.digest', 'in', digests)
    .where('m.repository_id', '=', repositoryId)
    .$if(notManifest !== undefined, (q) => q.where('m.id', '<>', notManifest as number))
    .execute();
  return new Set(rows.map((r) => r.digest));
}

/** Which of `digests` a manifest of the namespace names as a blob (leaving out the repository `notRepository`). */
async function blobsInNamespace(tx: DB, digests: string[], namespace: string, notRepository?: number): Promise<Set<string>> {
  const rows = await tx
    .selectFrom('manifest_ref as r')
    .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
    .innerJoin('repository as p', 'p.id', 'm.repository_id')
    .select('r.digest')
    .distinct()
    .where('r.kind', '=', 'blob')
    .where('r.digest', 'in', digests)
    .$if(notRepository !== undefined, (q) => q.where('m.repository_id', '<>', notRepository as number))
    .where(inNamespace('p', namespace))
    .execute();
  return new Set(rows.map((r) => r.digest));
}

/** The bytes of `digests` for the repository, and for the namespace those of them not also counted `elsewhere`. */
async function sizeDeltas(tx: DB, digests: string[], elsewhere: Set<string>): Promise<{ repoDelta: number; nsDelta: number }> {
  const rows = await tx.selectFrom('blob').select(['digest', 'size']).where('digest', 'in', digests).execute();
  const sizes = new Map(rows.map((r) => [r.digest, Number(r.size)]));
  const sum = (ds: string[]) => ds.reduce((n, d) => n + (sizes.get(d) ?? 0), 0);
  return { repoDelta: sum(digests), nsDelta: sum(digests.filter((d) => !elsewhere.has(d))) };
}

export class QuotaUsage {
  constructor(
    private readonly db: DB,
    private readonly settings: QuotaSettings,
    private readonly now: () => number,
    private readonly events: QuotaEvents = {},
  ) {}

  /**
   * Inside the transaction that stored a new manifest (after its manifest_ref rows): adds the blobs new to the
   * repository and to the namespace. Throws OCI DENIED, and so rolls the push back, when the namespace would
   * cross a Reject limit.
   */
  async manifestStored(tx: DB, e: { repositoryId: number; repository: string; manifestId: number; blobDigests: string[] }): Promise<void> {
    const namespace = namespaceOfRepository(e.repository);
    const before = await this.lock(tx, namespace, e.manifestId);
    const digests = [...new Set(e.blobDigests)];
    if (!digests.length) return this.touchRepository(tx, e.repositoryId, 0);
    const inRepo = await blobsInRepository(tx, digests, e.repositoryId, e.manifestId);
    const newToRepo = digests.filter((d) => !inRepo.has(d));
    if (!newToRepo.length) return;
    const elsewhere = await blobsInNamespace(tx, newToRepo, namespace, e.repositoryId);
    const { repoDelta, nsDelta } = await sizeDeltas(tx, newToRepo, elsewhere);
    const after = before + nsDelta;
    if (nsDelta > 0) {
      const force = await limitsInForce(tx, this.settings, namespace);
      const crossed = crossedLimit(force, after);
      const wasCrossed = crossedLimit(force, before);
      if (crossed?.type === 'Reject' && this.settings.verify) {
        throw quotaExceeded(namespace, after, force.limitBytes ?? crossed.bytes, crossed.percent);
      }
      const warn = force.limits.filter((l) => l.type === 'Warning' && before <= l.bytes && after > l.bytes);
      if (warn.length && (!wasCrossed || wasCrossed.type === 'Warning')) {
        const top = warn.reduce((a, b) => (b.bytes > a.bytes ? b : a));
        this.events.warning?.({
          namespace,
          repository: e.repository,
          usageBytes: after,
          limitBytes: force.limitBytes ?? 0,
          thresholdPercent: top.percent,
        });
      }
    }
    await this.add(tx, namespace, nsDelta, e.repositoryId, repoDelta);
  }

  /**
   * Inside a transaction that deletes a manifest, before the delete: returns what to run after it (in the same
   * transaction), which takes the blobs no longer used off the repository's and the namespace's usage.
   */
  async removingManifest(tx: DB, repositoryId: number, repository: string, digest: string): Promise<() => Promise<void>> {
    const digests = (
      await tx
        .selectFrom('manifest_ref as r')
        .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
        .select('r.digest')
        .distinct()
        .where('m.repository_id', '=', repositoryId)
        .where('m.digest', '=', digest)
        .where('r.kind', '=', 'blob')
        .execute()
    ).map((r) => r.digest);
    return async () => {
      const namespace = namespaceOfRepository(repository);
      await this.lock(tx, namespace);
      if (!digests.length) return;
      const stillInRepo = await blobsInRepository(tx, digests, repositoryId);
      const gone = digests.filter((d) => !stillInRepo.has(d));
      if (!gone.length) return;
      const stillInNs = await blobsInNamespace(tx, gone, namespace);
      const { repoDelta, nsDelta } = await sizeDeltas(tx, gone, stillInNs);
      await this.add(tx, namespace, -nsDelta, repositoryId, -repoDelta);
    };
  }

  /**
   * Before a blob upload is committed: refuses a blob that no manifest of the namespace uses yet and that alone
   * would take the namespace past its Reject limit (the manifest could never be accepted). Reads only; the
   * manifest commit is the exact check.
   */
  async checkBlob(repository: string, digest: string, size: number): Promise<void> {
    if (!this.settings.verify) return;
    const namespace = namespaceOfRepository(repository);
    const force = await limitsInForce(this.db, this.settings, namespace);
    if (!force.limits.some((l) => l.type === 'Reject')) return;
    const usage = await this.namespaceBytes(namespace);
    const crossed = crossedLimit(force, usage + size);
    if (crossed?.type !== 'Reject') return;
    const used = await this.db
      .selectFrom('manifest_ref as r')
      .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
      .innerJoin('repository as p', 'p.id', 'm.repository_id')
      .select('r.digest')
      .where('r.digest', '=', digest)
      .where(inNamespace('p', namespace))
      .executeTakeFirst();
    if (used) return;
    throw quotaExceeded(namespace, usage + size, force.limitBytes ?? crossed.bytes, crossed.percent);
  }

  /** The recorded usage of a namespace (0 when none is recorded). */
  async namespaceBytes(namespace: string, db: DB = this.db): Promise<number> {
    const r = await db.selectFrom('quota_namespace_size').select('size_bytes').where('namespace', '=', namespace).executeTakeFirst();
    return r ? Number(r.size_bytes) : 0;
  }

  async namespaceRow(namespace: string): Promise<{ size_bytes: number; backfill_complete: number } | undefined> {
    const r = await this.db
      .selectFrom('quota_namespace_size')
      .select(['size_bytes', 'backfill_complete'])
      .where('namespace', '=', namespace)
      .executeTakeFirst();
    return r && { size_bytes: Number(r.size_bytes), backfill_complete: Number(r.backfill_complete) };
  }

  /** Recorded sizes of repositories by id (missing ids: 0). */
  async repositoryBytes(ids: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    if (!ids.length) return out;
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db
        .selectFrom('quota_repository_size')
        .select(['repository_id', 'size_bytes'])
        .where('repository_id', 'in', ids.slice(i, i + 500))
        .execute();
      for (const r of rows) out.set(Number(r.repository_id), Number(r.size_bytes));
    }
    return out;
  }

  /** Recomputes one namespace's usage and its repositories' from scratch, under the namespace's lock. */
  async recountNamespace(namespace: string): Promise<RecountResult> {
    return this.db.transaction().execute(async (tx) => {
      const previous = await tx
        .selectFrom('quota_namespace_size')
        .select(['size_bytes', 'backfill_complete'])
        .where('namespace', '=', namespace)
        .executeTakeFirst();
      await this.lockRow(tx, namespace);
      const r = await this.recount(tx, namespace);
      return {
        namespace,
        sizeBytes: r.size,
        previousBytes: previous && Number(previous.backfill_complete) ? Number(previous.size_bytes) : null,
        repositories: r.repositories,
      };
    });
  }

  /** Every namespace that has repositories or recorded usage, recounted one at a time. */
  async recountAll(onlyMissing = false): Promise<RecountResult[]> {
    const names = new Set<string>();
    for (const r of await this.db.selectFrom('repository').select('name').execute()) names.add(namespaceOfRepository(r.name));
    const recorded = await this.db.selectFrom('quota_namespace_size').select(['namespace', 'backfill_complete']).execute();
    const done = new Set(recorded.filter((r) => Number(r.backfill_complete)).map((r) => r.namespace));
    for (const r of recorded) names.add(r.namespace);
    const out: RecountResult[] = [];
    for (const ns of [...names].sort()) {
      if (onlyMissing && done.has(ns)) continue;
      out.push(await this.recountNamespace(ns));
    }
    return out;
  }

  /** Namespaces whose repositories changed outside the push path (repository delete, gc): recounted. */
  async namespacesChanged(namespaces: Iterable<string>): Promise<void> {
    for (const ns of new Set(namespaces)) await this.recountNamespace(ns);
  }

  /** Takes the namespace's row (creating it); recounts a namespace never computed. Returns its usage. */
  private async lock(tx: DB, namespace: string, excludeManifestId?: number): Promise<number> {
    const row = await this.lockRow(tx, namespace);
    if (Number(row.backfill_complete)) return Number(row.size_bytes);
    return (await this.recount(tx, namespace, excludeManifestId)).size;
  }

  private async lockRow(tx: DB, namespace: string): Promise<{ size_bytes: number; backfill_complete: number }> {
    // An upsert that changes nothing but locks the row (PostgreSQL) until the transaction ends.
    return tx
      .insertInto('quota_namespace_size')
      .values({ namespace, size_bytes: 0, updated_at: this.now(), backfill_complete: 0 })
      .onConflict((oc) => oc.column('namespace').doUpdateSet({ namespace: sql`excluded.namespace` }))
      .returning(['size_bytes', 'backfill_complete'])
      .executeTakeFirstOrThrow();
  }

  /** From scratch, inside `tx` (which holds the namespace row): the namespace's and its repositories' sizes. */
  private async recount(tx: DB, namespace: string, excludeManifestId?: number): Promise<{ size: number; repositories: number }> {
    const refs = () => {
      let q = tx
        .selectFrom('manifest_ref as r')
        .innerJoin('manifest as m', 'm.id', 'r.manifest_id')
        .innerJoin('repository as p', 'p.id', 'm.repository_id')
        .where('r.kind', '=', 'blob')
        .where(inNamespace('p', namespace));
      if (excludeManifestId !== undefined) q = q.where('m.id', '<>', excludeManifestId);
      return q;
    };
    const total = await tx
      .selectFrom('blob as b')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('b.size'), sql<number>`0`).as('size'))
      .where('b.digest', 'in', refs().select('r.digest'))
      .executeTakeFirstOrThrow();
    const perRepo = await tx
      .selectFrom(refs().select(['m.repository_id', 'r.digest']).distinct().as('x'))
      .innerJoin('blob as b', 'b.digest', 'x.digest')
      .select(['x.repository_id', (eb) => eb.fn.sum<number>('b.size').as('size')])
      .groupBy('x.repository_id')
      .execute();
    const repos = await tx.selectFrom('repository as p').select('p.id').where(inNamespace('p', namespace)).execute();
    const sizes = new Map(perRepo.map((r) => [Number(r.repository_id), Number(r.size)]));
    const now = this.now();
    for (const { id } of repos) {
      const size = sizes.get(Number(id)) ?? 0;
      await tx
        .insertInto('quota_repository_size')
        .values({ repository_id: id, size_bytes: size, updated_at: now })
        .onConflict((oc) => oc.column('repository_id').doUpdateSet({ size_bytes: size, updated_at: now }))
        .execute();
    }
    const size = Number(total.size);
    await tx
      .updateTable('quota_namespace_size')
      .set({ size_bytes: size, updated_at: now, backfill_complete: 1 })
      .where('namespace', '=', namespace)
      .execute();
    return { size, repositories: repos.length };
  }

  private async touchRepository(tx: DB, repositoryId: number, delta: number): Promise<void> {
    const now = this.now();
    await tx
      .insertInto('quota_repository_size')
      .values({ repository_id: repositoryId, size_bytes: Math.max(0, delta), updated_at: now })
      .onConflict((oc) =>
        oc.column('repository_id').doUpdateSet({
          size_bytes: sql`quota_repository_size.size_bytes + ${delta}`,
          updated_at: now,
        }),
      )
      .execute();
  }

  private async add(tx: DB, namespace: string, nsDelta: number, repositoryId: number, repoDelta: number): Promise<void> {
    if (nsDelta !== 0)
      await tx
        .updateTable('quota_namespace_size')
        .set({ size_bytes: sql`size_bytes + ${nsDelta}`, updated_at: this.now() })
        .where('namespace', '=', namespace)
        .execute();
    await this.touchRepository(tx, repositoryId, repoDelta);
  }
}

/** OCI DENIED naming the namespace and the limit (Quay's QuotaExceeded, with the figures). */
export function quotaExceeded(namespace: string, usage: number, limitBytes: number, percent: number): RegistryError {
  return new RegistryError(
    'DENIED',
    `quota exceeded for namespace ${namespace}: ${formatBytes(usage)} of ${formatBytes(limitBytes)} (Reject limit ${percent}%)`,
    { namespace, usage_bytes: usage, limit_bytes: limitBytes, threshold_percent: percent },
  );
}
