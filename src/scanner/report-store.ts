// The scanner's per-manifest and per-layer rows, beside the advisory store (./store.ts):
//   scan_report          the index report of a manifest (StoredIndex as JSON: indexed or unsupported)
//   scan_manifest_layer  which layers a report rests on (what keeps their cached results alive)
//   scan_layer           per-layer indexer results, keyed by layer digest and scanner version
//   scan_vulnset         a manifest's vulnerability set at its last match (what re-matches diff)
// and the two reads of Berth's own manifest rows the scanner needs.
import type { DB } from '../db/database.js';
import type { LayerCache, LayerResult } from './indexer/index.js';
import { SEVERITIES, type Severity } from './model.js';
import type { StoredIndex } from './clair.js';
import type { VulnKey } from './vulns.js';
import { prepared } from '../db/prepared.js';

// What every scan job reads, compiled once (../db/prepared.ts).
const storedManifest = prepared(2, (db: DB, digest: string, repository: string) =>
  db
    .selectFrom('manifest')
    .innerJoin('repository', 'repository.id', 'manifest.repository_id')
    .select(['manifest.content', 'manifest.media_type', 'repository.name'])
    .where('manifest.digest', '=', digest)
    .orderBy((eb) => eb.case().when('repository.name', '=', repository).then(0).else(1).end())
    .limit(1),
);
const layerResult = prepared(2, (db: DB, digest: string, version: string) =>
  db.selectFrom('scan_layer').select('result').where('layer_digest', '=', digest).where('scanner_version', '=', version),
);

export class ReportStore {
  constructor(
    private readonly db: DB,
    private readonly scannerVersion: string,
  ) {}

  /** Stores a manifest's index report and the layers it rests on. */
  async save(s: StoredIndex, now: number): Promise<void> {
    const report = JSON.stringify(s);
    const layers = [...new Set(s.layers)];
    const version = this.scannerVersion;
    await this.db.transaction().execute(async (tx) => {
      await tx
        .insertInto('scan_report')
        .values({ manifest_digest: s.manifest, state: s.state, scanner_version: version, report, error: s.reason ?? null, indexed_at: now })
        .onConflict((oc) =>
          oc
            .column('manifest_digest')
            .doUpdateSet({ state: s.state, scanner_version: version, report, error: s.reason ?? null, indexed_at: now }),
        )
        .execute();
      await tx.deleteFrom('scan_manifest_layer').where('manifest_digest', '=', s.manifest).execute();
      if (layers.length)
        await tx
          .insertInto('scan_manifest_layer')
          .values(layers.map((l) => ({ manifest_digest: s.manifest, layer_digest: l })))
          .execute();
    });
  }

  async get(digest: string): Promise<StoredIndex | undefined> {
    const r = await this.db.selectFrom('scan_report').select('report').where('manifest_digest', '=', digest).executeTakeFirst();
    return r ? (JSON.parse(r.report) as StoredIndex) : undefined;
  }

  /** Digests of every manifest with an indexed report. */
  async indexedDigests(): Promise<string[]> {
    return (await this.db.selectFrom('scan_report').select('manifest_digest').where('state', '=', 'indexed').execute()).map(
      (r) => r.manifest_digest,
    );
  }

  /** Removes every row kept for one manifest (job, report, vulnerability set, layer list); true when it had a report. */
  async forget(digest: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const r = await tx.deleteFrom('scan_report').where('manifest_digest', '=', digest).executeTakeFirst();
      await tx.deleteFrom('scan_vulnset').where('manifest_digest', '=', digest).execute();
      await tx.deleteFrom('scan_manifest_layer').where('manifest_digest', '=', digest).execute();
      await tx.deleteFrom('scan_job').where('manifest_digest', '=', digest).execute();
      return Number(r.numDeletedRows) > 0;
    });
  }

  /**
   * Per-layer results that no stored report uses any more, or that an older scanner version produced.
   * A layer being indexed right now may lose its cached result here; that costs one re-read, never a wrong answer.
   */
  async pruneLayers(): Promise<number> {
    const r = await this.db
      .deleteFrom('scan_layer')
      .where((eb) =>
        eb.or([
          eb('scanner_version', '!=', this.scannerVersion),
          eb.not(
            eb.exists(
              eb
                .selectFrom('scan_manifest_layer')
                .select('scan_manifest_layer.layer_digest')
                .whereRef('scan_manifest_layer.layer_digest', '=', 'scan_layer.layer_digest'),
            ),
          ),
        ]),
      )
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * The indexer's per-layer cache (results of this scanner version). `known`: results read ahead for a batch of jobs
   * (`layerResults`), null for a layer that had none then; a layer in it is not asked for again, and a result stored
   * through this cache goes into it (a layer shared by two jobs of the batch is read once). A result another replica
   * stores meanwhile is missed: that costs one read of the layer, never a wrong answer.
   */
  layerCache(now: () => number, known?: Map<string, LayerResult | null>): LayerCache {
    const version = this.scannerVersion;
    return {
      get: async (d) => {
        const k = known?.get(d);
        if (k !== undefined) return k ?? undefined;
        const r = (await layerResult(this.db, d, version)).rows[0];
        return r ? (JSON.parse(r.result) as LayerResult) : undefined;
      },
      set: async (d, result) => {
        known?.set(d, result);
        await this.db
          .insertInto('scan_layer')
          .values({ layer_digest: d, scanner_version: version, result: JSON.stringify(result), created_at: now() })
          .onConflict((oc) => oc.columns(['layer_digest', 'scanner_version']).doNothing())
          .execute();
      },
    };
  }

  async vulnSet(digest: string): Promise<VulnKey[] | undefined> {
    const r = await this.db.selectFrom('scan_vulnset').select('vulns').where('manifest_digest', '=', digest).executeTakeFirst();
    return r ? (JSON.parse(r.vulns) as VulnKey[]) : undefined;
  }

  async putVulnSet(digest: string, keys: readonly VulnKey[], now: number): Promise<void> {
    const vulns = JSON.stringify(keys);
    await this.db
      .insertInto('scan_vulnset')
      .values({ manifest_digest: digest, vulns, matched_at: now })
      .onConflict((oc) => oc.column('manifest_digest').doUpdateSet({ vulns, matched_at: now }))
      .execute();
  }

  /** Vulnerabilities found in indexed manifests, by severity (distinct per manifest, package and id). */
  async vulnerabilityCounts(): Promise<Record<Severity, number>> {
    const out = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    const rows = await this.db.selectFrom('scan_vulnset').select('vulns').execute();
    for (const r of rows) for (const k of JSON.parse(r.vulns) as VulnKey[]) out[k.severity] = (out[k.severity] ?? 0) + 1;
    return out;
  }

  // ---- Berth's manifests, as the scanner reads them ---------------------------------------------

  /** A stored manifest by digest (preferring the copy in `repository`), or undefined when no repository has it. */
  async manifest(digest: string, repository: string): Promise<{ content: Uint8Array; mediaType: string; repository: string } | undefined> {
    const row = (await storedManifest(this.db, digest, repository)).rows[0];
    return row && { content: row.content, mediaType: row.media_type, repository: row.name };
  }

  /**
   * The stored manifests of a batch of jobs in one statement, as `manifest` answers each (the copy in the job's
   * repository preferred); a digest no repository stores maps to undefined.
   */
  async manifests(
    jobs: readonly { digest: string; repository: string }[],
  ): Promise<Map<string, { content: Uint8Array; mediaType: string; repository: string } | undefined>> {
    const out = new Map<string, { content: Uint8Array; mediaType: string; repository: string } | undefined>();
    if (!jobs.length) return out;
    const rows = await this.db
      .selectFrom('manifest')
      .innerJoin('repository', 'repository.id', 'manifest.repository_id')
      .select(['manifest.digest', 'manifest.content', 'manifest.media_type', 'repository.name'])
      .where(
        'manifest.digest',
        'in',
        jobs.map((j) => j.digest),
      )
      .execute();
    const wanted = new Map(jobs.map((j) => [j.digest, j.repository]));
    for (const j of jobs) out.set(j.digest, undefined);
    for (const r of rows) {
      const have = out.get(r.digest);
      if (have && have.repository === wanted.get(r.digest)) continue;
      if (!have || r.name === wanted.get(r.digest)) out.set(r.digest, { content: r.content, mediaType: r.media_type, repository: r.name });
    }
    return out;
  }

  /** This scanner version's results of these layers in one statement; null for a layer with none. */
  async layerResults(digests: readonly string[]): Promise<Map<string, LayerResult | null>> {
    const out = new Map<string, LayerResult | null>(digests.map((d) => [d, null]));
    if (!digests.length) return out;
    const rows = await this.db
      .selectFrom('scan_layer')
      .select(['layer_digest', 'result'])
      .where('scanner_version', '=', this.scannerVersion)
      .where('layer_digest', 'in', [...out.keys()])
      .execute();
    for (const r of rows) out.set(r.layer_digest, JSON.parse(r.result) as LayerResult);
    return out;
  }

  /** Whether any repository still stores a manifest with this digest. */
  async isStored(digest: string): Promise<boolean> {
    return !!(await this.db.selectFrom('manifest').select('id').where('digest', '=', digest).limit(1).executeTakeFirst());
  }

  /** Which of these digests some repository still stores (one statement per 500). */
  async storedOf(digests: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < digests.length; i += 500) {
      const part = digests.slice(i, i + 500);
      const rows = await this.db.selectFrom('manifest').select('digest').distinct().where('digest', 'in', part).execute();
      for (const r of rows) out.add(r.digest);
    }
    return out;
  }

  /** Digests of queued jobs whose manifest no repository stores any more. */
  async orphanedJobs(): Promise<string[]> {
    const gone = await this.db
      .selectFrom('scan_job')
      .select('scan_job.manifest_digest')
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('manifest').select('manifest.id').whereRef('manifest.digest', '=', 'scan_job.manifest_digest'))),
      )
      .execute();
    return gone.map((g) => g.manifest_digest);
  }
}
