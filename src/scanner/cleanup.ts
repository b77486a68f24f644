// Forgetting: the scanner's rows of manifests no repository stores any more (after a delete, a repository
// delete or gc, and an hourly sweep), an external scanner's index reports, and layer results nothing uses.
import type { ReportStore } from './report-store.js';
import type { MatchService } from './matching.js';
import type { RemoteScanner } from './remote.js';
import type { ScannerLogger } from './log.js';

export class ScanCleanup {
  constructor(
    private readonly reports: ReportStore,
    private readonly matcher: MatchService,
    private readonly opts: { log: ScannerLogger; remote?: RemoteScanner },
  ) {}

  /** Removes every row the scanner keeps for one manifest. */
  async forget(digest: string): Promise<boolean> {
    const deleted = await this.reports.forget(digest);
    this.matcher.forget(digest);
    return deleted;
  }

  /** Clair's DELETE index_report: the manifest's rows go, and layer results nothing else uses. */
  async deleteIndex(digest: string): Promise<boolean> {
    const deleted = await this.forget(digest);
    await this.reports.pruneLayers();
    return deleted;
  }

  /**
   * Called after Berth deleted manifests (registry or API delete, repository delete, gc): forgets
   * those no repository stores any more (a digest pushed to two repositories stays while one has it),
   * tells an external scanner to drop its index reports, and prunes unused layer results.
   */
  async manifestsRemoved(digests: readonly string[]): Promise<{ manifests: number; layers: number }> {
    let manifests = 0;
    const unique = [...new Set(digests)];
    // Which are still stored: one statement for the list (a batch of scan jobs, a gc pass).
    const stored = unique.length > 1 ? await this.reports.storedOf(unique) : undefined;
    for (const d of unique) {
      if (stored ? stored.has(d) : await this.reports.isStored(d)) continue;
      await this.forget(d);
      manifests++;
      if (this.opts.remote) {
        await this.opts.remote
          .deleteIndexReport(d)
          .catch((err: Error) =>
            this.opts.log.warn({ digest: d, error: err.message }, 'the external scanner did not delete its index report'),
          );
      }
    }
    return { manifests, layers: manifests ? await this.reports.pruneLayers() : 0 };
  }

  /**
   * The periodic sweep (and `berth gc`): jobs Berth queued for manifests no repository stores any
   * more (deleted while the scanner was off, or while their job ran), then unused layer results.
   * Reports made through the Clair API for manifests Berth never stored have no job and are left
   * to Clair's DELETE.
   */
  async cleanup(): Promise<{ manifests: number; layers: number }> {
    const r = await this.manifestsRemoved(await this.reports.orphanedJobs());
    return { manifests: r.manifests, layers: r.manifests ? r.layers : await this.reports.pruneLayers() };
  }
}
