// The scanner service: what "scan this manifest" means, over the database and the blob store.
//
//   enqueue(digest, repository)   called after a push (never throws into the push) and on request
//   runJob / the worker loop      claims jobs from the durable queue (./queue.ts) and indexes them
//   indexManifest(ClairManifest)  reads layers (blob store first, else the layer URI over HTTP, as
//                                 Clair does), reusing per-layer results (scan_layer, keyed by layer
//                                 digest + scanner version), stores the index report (scan_report)
//   vulnerabilityReport(digest)   matches on demand; a short cache keyed by the advisory data's
//                                 version (updater_state), so an updater import invalidates it
//   runUpdaters / rematchAll      after new data: re-match indexed manifests, diff each one's
//                                 vulnerability set, and hand new findings to the notifier
// An image whose layers hold no recognisable packages is "unsupported", never "no vulnerabilities".
import { PassThrough, Readable } from 'node:stream';
import { hashHex, newId } from '../crypto/index.js';
import type { DB, Dialect } from '../db/database.js';
import type { BlobStore } from '../storage/blobstore.js';
import { parseManifest } from '../oci/manifest.js';
import { classifyManifest } from '../oci/manifest-kind.js';
import { indexLayers, scanners, LayerFormatError, type LayerCache, type LayerResult } from './indexer/index.js';
import { match } from './matcher/index.js';
import type { MatchReport } from './matcher/types.js';
import { SEVERITIES, type Severity } from './model.js';
import { ScanQueue, type JobState, type ScanJob } from './queue.js';
import { AdvisoryStore } from './store.js';
import { getUpdater, runUpdater, updaters, type RunResult } from './updaters/index.js';
import { toClairIndexReport, toClairVulnerabilityReport, type ClairIndexReport, type ClairManifest, type ClairVulnerabilityReport, type StoredIndex } from './clair.js';
import type { Notifier } from './notifier.js';
import type { RemoteScanner } from './remote.js';

/** The scanner version: changes when any indexer plug-in changes, so old layer results are redone. */
export const SCANNER_VERSION = `berth-${hashHex('sha256', JSON.stringify(scanners.map((s) => [s.name, s.version]))).slice(0, 16)}`;


/** How often `schedule` sweeps rows of manifests that are gone and unused layer results. */
const CLEANUP_INTERVAL_MS = 3600_000;

export type ScanOutcome = 'indexed' | 'unsupported' | 'failed' | 'retry';

/** Hooks for the metrics module (src/metrics): one observer, no second registry here. */
export interface ScannerObserver {
  onScanQueued?(): void;
  onScanStarted?(): void;
  /** `error`: what ended a failed attempt (outcome failed or retry). */
  onScanFinished?(durationMs: number, outcome: ScanOutcome, error?: unknown): void;
}

export interface ScannerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const SILENT: ScannerLogger = { info() {}, warn() {}, error() {} };

export interface ScannerOptions {
  db: DB;
  dialect: Dialect;
  blobs?: BlobStore;
  queue?: { maxAttempts?: number; leaseMs?: number; backoffMs?: (n: number) => number };
  log?: ScannerLogger;
  observer?: ScannerObserver;
  notifier?: Notifier;
  /** Told what a re-match newly found or lost (repository notifications: vulnerability_found). Errors are logged. */
  onRematch?: (changes: VulnChange[]) => Promise<unknown>;
  now?: () => number;
  /** Updater settings (run now / on schedule). */
  updaters?: { names?: string[]; baseUrls?: Record<string, string>; proxy?: string; airgap?: boolean };
  /** Match cache: how long a report may be reused when the data has not changed (default 60 s). */
  matchCacheMs?: number;
  /** Temp files of the indexer and the store. */
  tmpDir?: string;
  /**
   * An external Clair-compatible scanner (SECURITY_SCANNER_V4_ENDPOINT) and how it reaches Berth's
   * blobs: layer URIs are `${registryUrl}/v2/<repository>/blobs/<digest>`, with `layerHeaders`.
   */
  remote?: { scanner: RemoteScanner; registryUrl: string; layerHeaders?: (repository: string) => Promise<Record<string, string[]>> };
}

/** The state a report lookup answers with (Quay's statuses map onto these). */
export type ScanStatus =
  | { state: 'queued' | 'indexing'; job: ScanJob }
  | { state: 'failed'; job: ScanJob; error: string }
  | { state: 'unsupported'; reason: string }
  | { state: 'indexed'; index: StoredIndex }
  | { state: 'unknown' };

export class PermanentScanError extends Error {}

export class ScannerService {
  readonly queue: ScanQueue;
  readonly advisories: AdvisoryStore;
  readonly db: DB;
  log: ScannerLogger;
  private readonly now: () => number;
  private readonly cache = new Map<string, { version: string; at: number; report: MatchReport }>();
  private readonly workers: Promise<void>[] = [];
  private stopping = false;
  private wakeups: Array<() => void> = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly owner = `worker-${newId().slice(0, 12)}`;
  observer: ScannerObserver;
  private dataSeenAt?: number;

  constructor(private readonly opts: ScannerOptions) {
    this.db = opts.db;
    this.queue = new ScanQueue(opts.db, { ...opts.queue, now: opts.now });
    this.advisories = new AdvisoryStore(opts.db, opts.dialect, { tmpDir: opts.tmpDir });
    this.log = opts.log ?? SILENT;
    this.now = opts.now ?? Date.now;
    this.observer = opts.observer ?? {};
  }

  get notifier(): Notifier | undefined {
    return this.opts.notifier;
  }

  // ---- the queue ----------------------------------------------------------------------------------

  /** Queues a manifest for indexing. Never throws: a failure is logged (a push must not fail for it). */
  async enqueue(digest: string, repository: string, opts: { force?: boolean } = {}): Promise<boolean> {
    try {
      const queued = await this.queue.enqueue(digest, repository, opts);
      if (queued) {
        this.observer.onScanQueued?.();
        this.wake();
      }
      return queued;
    } catch (err) {
      this.log.error({ err, digest, repository }, 'could not queue the manifest for scanning');
      return false;
    }
  }

  /** Claims and runs one job; returns false when there was nothing to do. */
  async runOnce(owner = this.owner): Promise<boolean> {
    const job = await this.queue.claim(owner);
    if (!job) return false;
    const started = this.now();
    this.observer.onScanStarted?.();
    const beat = setInterval(() => { this.queue.heartbeat(job.digest, owner).catch(() => {}); }, Math.max(1000, this.queue.leaseMs / 3));
    beat.unref();
    let outcome: ScanOutcome;
    let error: unknown;
    try {
      const s = await this.indexStored(job.digest, job.repository);
      outcome = s.state;
      await this.queue.finish(job.digest, owner, s.state, s.state === 'unsupported' ? s.reason : undefined);
      // Deleted while it was being indexed: what was just stored belongs to nothing.
      await this.manifestsRemoved([job.digest]);
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      const permanent = err instanceof PermanentScanError || err instanceof LayerFormatError;
      const st = await this.queue.fail(job.digest, owner, msg, { permanent });
      outcome = st === 'failed' ? 'failed' : 'retry';
      error = err;
      this.log.warn({ digest: job.digest, attempt: job.attempts, error: msg, next: st }, 'scan attempt failed');
    } finally {
      clearInterval(beat);
    }
    this.observer.onScanFinished?.(this.now() - started, outcome, error);
    return true;
  }

  /** Starts `n` worker loops (they poll the queue and are woken by enqueue). */
  start(n: number, pollMs = 1000): void {
    this.stopping = false;
    for (let i = 0; i < n; i++) {
      const owner = `${this.owner}-${i}`;
      this.workers.push((async () => {
        while (!this.stopping) {
          let worked = false;
          try {
            worked = await this.runOnce(owner);
          } catch (err) {
            if (this.stopping) break;
            this.log.error({ err }, 'scanner worker error');
          }
          if (!worked && !this.stopping) await new Promise<void>((r) => {
            const t = setTimeout(r, pollMs);
            this.wakeups.push(() => { clearTimeout(t); r(); });
          });
        }
      })());
    }
  }

  /** Runs the updaters every `seconds` (0: never), sweeps (cleanup, hourly) and retries webhook deliveries. */
  schedule(updateSeconds: number): void {
    if (updateSeconds > 0) {
      const t = setInterval(() => { this.runUpdaters().catch((err) => this.log.error({ err }, 'scheduled updater run failed')); }, updateSeconds * 1000);
      t.unref();
      this.timers.push(t);
    }
    const sweep = setInterval(() => { this.cleanup().catch((err) => this.log.error({ err }, 'scanner cleanup failed')); }, CLEANUP_INTERVAL_MS);
    sweep.unref();
    this.timers.push(sweep);
    if (this.opts.notifier) {
      const t = setInterval(() => { this.opts.notifier!.deliverPending().catch(() => {}); }, 30_000);
      t.unref();
      this.timers.push(t);
    }
  }

  private wake(): void {
    const w = this.wakeups;
    this.wakeups = [];
    for (const f of w) f();
  }

  /** Stops the workers after their current job. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.wake();
    await Promise.allSettled(this.workers);
    this.workers.length = 0;
  }

  // ---- indexing -----------------------------------------------------------------------------------

  /** Indexes a manifest stored in Berth's database (the job handler). */
  async indexStored(digest: string, repository: string): Promise<{ state: 'indexed' } | { state: 'unsupported'; reason: string }> {
    const row = await this.db.selectFrom('manifest').innerJoin('repository', 'repository.id', 'manifest.repository_id')
      .select(['manifest.content', 'manifest.media_type', 'repository.name']).where('manifest.digest', '=', digest)
      .orderBy((eb) => eb.case().when('repository.name', '=', repository).then(0).else(1).end())
      .executeTakeFirst();
    if (!row) throw new PermanentScanError(`manifest ${digest} is no longer stored`);
    const m = parseManifest(row.content, row.media_type);
    const unsupported = async (reason: string) => {
      await this.saveReport({ manifest: digest, state: 'unsupported', reason, layers: [], packages: [] });
      return { state: 'unsupported' as const, reason };
    };
    const kind = classifyManifest(m);
    if (kind === 'index') {
      // Quay reports an index (manifest list) as unsupported; each platform manifest is scanned.
      for (const child of m.manifests) await this.enqueue(child.digest, row.name);
      return unsupported(`an image index: each of its ${m.manifests.length} manifests is scanned on its own`);
    }
    if (kind !== 'image') {
      return unsupported(`not a container image but ${kind === 'helm-chart' ? 'a Helm chart' : 'an artifact'} (config media type ${m.config?.mediaType ?? 'none'}${m.artifactType ? `, artifact type ${m.artifactType}` : ''})`);
    }
    const layers = m.layers;
    if (!layers.length) return unsupported('the image has no layers');
    if (this.opts.remote) return this.indexRemote(digest, row.name, layers.map((l) => l.digest));
    const stored = await this.indexManifest({ hash: digest, layers: layers.map((l) => ({ hash: l.digest })) });
    return stored.state === 'indexed' ? { state: 'indexed' } : { state: 'unsupported', reason: stored.reason ?? 'no recognisable packages' };
  }

  /** Sends the manifest to the external scanner; its answer decides indexed or unsupported. */
  private async indexRemote(digest: string, repository: string, layers: string[]): Promise<{ state: 'indexed' } | { state: 'unsupported'; reason: string }> {
    const { scanner, registryUrl, layerHeaders } = this.opts.remote!;
    const headers = (await layerHeaders?.(repository)) ?? {};
    const report = await scanner.index({
      hash: digest,
      layers: layers.map((d) => ({ hash: d, uri: `${registryUrl.replace(/\/$/, '')}/v2/${repository}/blobs/${d}`, headers })),
    });
    if (!report.success && report.err) throw new Error(`external scanner: ${report.err}`);
    const empty = Object.keys(report.packages ?? {}).length === 0;
    const stored: StoredIndex = empty
      ? { manifest: digest, state: 'unsupported', reason: 'the external scanner found no packages', layers, packages: [] }
      : { manifest: digest, state: 'indexed', layers, packages: [] };
    await this.saveReport(stored);
    return stored.state === 'indexed' ? { state: 'indexed' } : { state: 'unsupported', reason: stored.reason! };
  }

  /**
   * Indexes a manifest given as Clair's Manifest: each layer from the blob store when present,
   * else from its URI (with its headers). Stores and returns the result.
   */
  async indexManifest(m: ClairManifest): Promise<StoredIndex> {
    const digests = m.layers.map((l) => l.hash);
    const sources: Array<() => Readable> = [];
    for (const l of m.layers) {
      const local = this.opts.blobs && (await this.opts.blobs.stat(l.hash)) !== null;
      if (local) sources.push(() => this.opts.blobs!.read(l.hash));
      else if (l.uri) sources.push(() => fetchLayer(l.uri!, l.headers ?? {}));
      else throw new PermanentScanError(`layer ${l.hash} is not in blob storage and has no URI`);
    }
    const cache: LayerCache = {
      get: async (d) => {
        const r = await this.db.selectFrom('scan_layer').select('result').where('layer_digest', '=', d).where('scanner_version', '=', SCANNER_VERSION).executeTakeFirst();
        return r ? (JSON.parse(r.result) as LayerResult) : undefined;
      },
      set: async (d, result) => {
        await this.db.insertInto('scan_layer').values({ layer_digest: d, scanner_version: SCANNER_VERSION, result: JSON.stringify(result), created_at: this.now() })
          .onConflict((oc) => oc.columns(['layer_digest', 'scanner_version']).doNothing()).execute();
      },
    };
    const r = await indexLayers(sources, { digests, cache, ...(this.opts.tmpDir ? { tmpDir: this.opts.tmpDir } : {}) });
    const stored: StoredIndex = r.packages.length
      ? { manifest: m.hash, state: 'indexed', layers: digests, ...(r.distribution ? { distribution: r.distribution } : {}), packages: r.packages }
      : {
        manifest: m.hash, state: 'unsupported', layers: digests, ...(r.distribution ? { distribution: r.distribution } : {}), packages: [],
        reason: r.distribution ? `no installed packages found (distribution ${r.distribution.id} detected)` : 'no recognisable packages or distribution in any layer',
      };
    await this.saveReport(stored);
    if (stored.state === 'indexed') await this.recordVulnSet(m.hash, false);
    return stored;
  }

  private async saveReport(s: StoredIndex): Promise<void> {
    const now = this.now();
    const report = JSON.stringify(s);
    const layers = [...new Set(s.layers)];
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('scan_report').values({ manifest_digest: s.manifest, state: s.state, scanner_version: SCANNER_VERSION, report, error: s.reason ?? null, indexed_at: now })
        .onConflict((oc) => oc.column('manifest_digest').doUpdateSet({ state: s.state, scanner_version: SCANNER_VERSION, report, error: s.reason ?? null, indexed_at: now })).execute();
      // Which layers this report rests on: what keeps their cached results (scan_layer) from being pruned.
      await tx.deleteFrom('scan_manifest_layer').where('manifest_digest', '=', s.manifest).execute();
      if (layers.length) await tx.insertInto('scan_manifest_layer').values(layers.map((l) => ({ manifest_digest: s.manifest, layer_digest: l }))).execute();
    });
    this.cache.delete(s.manifest);
  }

  async storedIndex(digest: string): Promise<StoredIndex | undefined> {
    const r = await this.db.selectFrom('scan_report').select('report').where('manifest_digest', '=', digest).executeTakeFirst();
    return r ? (JSON.parse(r.report) as StoredIndex) : undefined;
  }

  /** Where a manifest's scan stands. */
  async status(digest: string): Promise<ScanStatus> {
    const job = await this.queue.get(digest);
    if (job && (job.state === 'queued' || job.state === 'indexing')) return { state: job.state, job };
    if (job?.state === 'failed') return { state: 'failed', job, error: job.lastError ?? 'unknown error' };
    const s = await this.storedIndex(digest);
    if (s?.state === 'unsupported') return { state: 'unsupported', reason: s.reason ?? 'unsupported' };
    if (s) return { state: 'indexed', index: s };
    return { state: 'unknown' };
  }

  /** Clair's DELETE index_report: the manifest's rows go, and layer results nothing else uses. */
  async deleteIndex(digest: string): Promise<boolean> {
    const deleted = await this.forget(digest);
    await this.pruneLayers();
    return deleted;
  }

  // ---- cleanup ------------------------------------------------------------------------------------

  /** Removes every row the scanner keeps for one manifest (job, report, vulnerability set, layer list). */
  private async forget(digest: string): Promise<boolean> {
    const deleted = await this.db.transaction().execute(async (tx) => {
      const r = await tx.deleteFrom('scan_report').where('manifest_digest', '=', digest).executeTakeFirst();
      await tx.deleteFrom('scan_vulnset').where('manifest_digest', '=', digest).execute();
      await tx.deleteFrom('scan_manifest_layer').where('manifest_digest', '=', digest).execute();
      await tx.deleteFrom('scan_job').where('manifest_digest', '=', digest).execute();
      return Number(r.numDeletedRows) > 0;
    });
    this.cache.delete(digest);
    return deleted;
  }

  /**
   * Called after Berth deleted manifests (registry or API delete, repository delete, gc): forgets
   * those no repository stores any more (a digest pushed to two repositories stays while one has it),
   * tells an external scanner to drop its index reports, and prunes unused layer results.
   */
  async manifestsRemoved(digests: readonly string[]): Promise<{ manifests: number; layers: number }> {
    let manifests = 0;
    for (const d of new Set(digests)) {
      const stored = await this.db.selectFrom('manifest').select('id').where('digest', '=', d).limit(1).executeTakeFirst();
      if (stored) continue;
      await this.forget(d);
      manifests++;
      if (this.opts.remote) {
        await this.opts.remote.scanner.deleteIndexReport(d)
          .catch((err: Error) => this.log.warn({ digest: d, error: err.message }, 'the external scanner did not delete its index report'));
      }
    }
    return { manifests, layers: manifests ? await this.pruneLayers() : 0 };
  }

  /**
   * Per-layer results (scan_layer) that no stored report uses any more, or that an older scanner
   * version produced. A layer being indexed right now may lose its cached result here; that costs
   * one re-read, never a wrong answer.
   */
  async pruneLayers(): Promise<number> {
    const r = await this.db.deleteFrom('scan_layer')
      .where((eb) => eb.or([
        eb('scanner_version', '!=', SCANNER_VERSION),
        eb.not(eb.exists(eb.selectFrom('scan_manifest_layer').select('scan_manifest_layer.layer_digest')
          .whereRef('scan_manifest_layer.layer_digest', '=', 'scan_layer.layer_digest'))),
      ]))
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /**
   * The periodic sweep (and `berth gc`): jobs Berth queued for manifests no repository stores any
   * more (deleted while the scanner was off, or while their job ran), then unused layer results.
   * Reports made through the Clair API for manifests Berth never stored have no job and are left
   * to Clair's DELETE.
   */
  async cleanup(): Promise<{ manifests: number; layers: number }> {
    const gone = await this.db.selectFrom('scan_job').select('scan_job.manifest_digest')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('manifest').select('manifest.id').whereRef('manifest.digest', '=', 'scan_job.manifest_digest'))))
      .execute();
    const r = await this.manifestsRemoved(gone.map((g) => g.manifest_digest));
    return { manifests: r.manifests, layers: r.manifests ? r.layers : await this.pruneLayers() };
  }

  async clairIndexReport(digest: string): Promise<ClairIndexReport | undefined> {
    const s = await this.storedIndex(digest);
    if (s) return toClairIndexReport(s);
    const job = await this.queue.get(digest);
    if (job?.state === 'failed') return { ...toClairIndexReport({ manifest: digest, state: 'indexed', layers: [], packages: [] }, job.lastError ?? 'failed') };
    return undefined;
  }

  // ---- matching -----------------------------------------------------------------------------------

  /** A version of the advisory data: changes whenever an updater replaces its data set. */
  async dataVersion(): Promise<string> {
    const rows = await this.db.selectFrom('updater_state').select(['name', 'updated_at']).orderBy('name').execute();
    return rows.map((r) => `${r.name}@${r.updated_at}`).join(',');
  }

  /** Matches a stored index now (cached while the data is unchanged, at most matchCacheMs). */
  async matchReport(s: StoredIndex): Promise<MatchReport> {
    const version = await this.dataVersion();
    const hit = this.cache.get(s.manifest);
    const ttl = this.opts.matchCacheMs ?? 60_000;
    if (hit && hit.version === version && this.now() - hit.at < ttl) return hit.report;
    const report = await match(this.advisories, s.packages, s.distribution);
    if (this.cache.size > 500) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(s.manifest, { version, at: this.now(), report });
    return report;
  }

  /**
   * Whether any advisory data is loaded (undefined with an external scanner, which keeps its own). A report
   * matched against no data at all must not read as "no known vulnerabilities"; the security API says so.
   */
  async hasVulnerabilityData(): Promise<boolean | undefined> {
    if (this.opts.remote) return undefined;
    // Only "there is data" is remembered (30 s): the answer "none" is read again each time (a few rows), so a
    // first import shows at once.
    const now = this.now();
    if (this.dataSeenAt !== undefined && now - this.dataSeenAt < 30_000) return true;
    const has = (await this.advisories.updaterStatus()).some((u) => u.records > 0);
    this.dataSeenAt = has ? now : undefined;
    return has;
  }

  async vulnerabilityReport(digest: string): Promise<ClairVulnerabilityReport | undefined> {
    const s = await this.storedIndex(digest);
    if (!s) return undefined;
    if (this.opts.remote && s.state === 'indexed') return this.opts.remote.scanner.vulnerabilityReport(digest);
    return toClairVulnerabilityReport(s, await this.matchReport(s));
  }

  /** Opaque state of the indexer (Clair's index_state): changes when indexing would give new results. */
  indexState(): string {
    return SCANNER_VERSION;
  }

  // ---- updates and notifications ------------------------------------------------------------------

  /** Runs updaters now (the configured list, or `names`); re-matches and notifies when data changed. */
  async runUpdaters(names?: string[]): Promise<RunResult[]> {
    const cfg = this.opts.updaters ?? {};
    const list = (names ?? cfg.names)?.map(getUpdater) ?? updaters.filter((u) => u.enabledByDefault);
    const results: RunResult[] = [];
    let changed = false;
    for (const u of list) {
      try {
        const r = await runUpdater(this.advisories, u, { baseUrl: cfg.baseUrls?.[u.name], proxy: cfg.proxy, airgap: cfg.airgap });
        results.push(r);
        if (!r.unchanged && (r.added || r.updated || r.withdrawn)) changed = true;
        this.log.info({ updater: u.name, result: r }, 'updater run');
      } catch (err) {
        this.log.error({ updater: u.name, error: (err as Error).message }, 'updater failed; its previous data is kept');
        if (names) throw err;
      }
    }
    if (changed) await this.rematchAll();
    return results;
  }

  /** Call after an import that changed data (air-gap import, `replaceUpdater`): re-match and notify. */
  async rematchAll(): Promise<{ manifests: number; notifications: number }> {
    this.cache.clear();
    const digests = await this.db.selectFrom('scan_report').select('manifest_digest').where('state', '=', 'indexed').execute();
    const changes: VulnChange[] = [];
    for (const { manifest_digest } of digests) {
      const c = await this.recordVulnSet(manifest_digest, true);
      if (c.added.length || c.removed.length) changes.push({ manifest: manifest_digest, ...c });
    }
    let notifications = 0;
    if (changes.length && this.opts.onRematch) {
      await this.opts.onRematch(changes).catch((err) => this.log.error({ err: (err as Error).message }, 'repository notifications for new vulnerabilities failed'));
    }
    if (changes.length && this.opts.notifier) {
      await this.opts.notifier.notify(changes);
      notifications = changes.reduce((n, c) => n + c.added.length + c.removed.length, 0);
    }
    return { manifests: digests.length, notifications };
  }

  /**
   * Matches a manifest and stores its vulnerability set; when diffing, returns what the new data
   * added (newly affected) and removed (no longer affected: fixed data, withdrawn advisory).
   */
  private async recordVulnSet(digest: string, diff: boolean): Promise<{ added: VulnKey[]; removed: VulnKey[] }> {
    const none = { added: [], removed: [] };
    if (this.opts.remote) return none; // the external scanner's notifier does this
    const s = await this.storedIndex(digest);
    if (!s || s.state !== 'indexed') return none;
    const report = await this.matchReport(s);
    const keys = vulnKeys(s, report);
    const prev = await this.db.selectFrom('scan_vulnset').select('vulns').where('manifest_digest', '=', digest).executeTakeFirst();
    const now = this.now();
    const vulns = JSON.stringify(keys);
    await this.db.insertInto('scan_vulnset').values({ manifest_digest: digest, vulns, matched_at: now })
      .onConflict((oc) => oc.column('manifest_digest').doUpdateSet({ vulns, matched_at: now })).execute();
    if (!diff || !prev) return none;
    const before = JSON.parse(prev.vulns) as VulnKey[];
    const old = new Set(before.map((k) => k.key));
    const current = new Set(keys.map((k) => k.key));
    return { added: keys.filter((k) => !old.has(k.key)), removed: before.filter((k) => !current.has(k.key)) };
  }

  /** Vulnerabilities found in indexed manifests, by severity (distinct per manifest, package and id). */
  async vulnerabilityCounts(): Promise<Record<Severity, number>> {
    const out = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    const rows = await this.db.selectFrom('scan_vulnset').select('vulns').execute();
    for (const r of rows) for (const k of JSON.parse(r.vulns) as VulnKey[]) out[k.severity] = (out[k.severity] ?? 0) + 1;
    return out;
  }

  async queueDepth(): Promise<{ queued: number; indexing: number }> {
    return this.queue.depth();
  }

  async counts(): Promise<Record<JobState, number>> {
    return this.queue.counts();
  }
}

/** What a re-match changed for one manifest. */
export interface VulnChange { manifest: string; added: VulnKey[]; removed: VulnKey[] }

/** One (vulnerability, package) finding of a manifest, as the notifier diffs it. */
export interface VulnKey {
  key: string;
  id: string;
  severity: Severity;
  package: string;
  version: string;
  fixedIn: string | null;
  description: string;
  links: string[];
  ecosystem: string;
}

function vulnKeys(s: StoredIndex, report: MatchReport): VulnKey[] {
  const out = new Map<string, VulnKey>();
  for (const pr of report.packages) {
    for (const v of pr.vulnerabilities) {
      const key = `${v.id}|${pr.package.ecosystem}|${pr.package.name}|${pr.package.version}`;
      if (out.has(key)) continue;
      out.set(key, {
        key, id: v.id, severity: v.severity, package: pr.package.name, version: pr.package.version, fixedIn: v.fixedIn,
        description: v.description.slice(0, 500), links: v.links.slice(0, 5), ecosystem: pr.package.ecosystem,
      });
    }
  }
  void s;
  return [...out.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Streams a layer from its URI (the way Clair fetches layers Quay names). */
function fetchLayer(uri: string, headers: Record<string, string[]>): Readable {
  const out = new PassThrough();
  const h = new Headers();
  for (const [k, vs] of Object.entries(headers)) for (const v of vs) h.append(k, v);
  fetch(uri, { headers: h, redirect: 'follow' }).then((res) => {
    if (!res.ok || !res.body) {
      out.destroy(new Error(`fetching layer ${uri.split('?')[0]}: HTTP ${res.status}`));
      return;
    }
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('error', (e) => out.destroy(e));
    body.pipe(out);
  }, (e: Error) => out.destroy(new Error(`fetching layer ${uri.split('?')[0]}: ${e.message}`)));
  return out;
}
