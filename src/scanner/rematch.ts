// After new advisory data: run the updaters, re-match every indexed manifest, diff each one's vulnerability
// set against the one stored at its last match, and hand what changed to the notifier.
import type { AdvisoryStore } from './store.js';
import type { ReportStore } from './report-store.js';
import type { MatchService } from './matching.js';
import type { Notifier } from './notifier.js';
import type { ScannerLogger } from './log.js';
import { getUpdater, runUpdater, updaters, type RunResult } from './updaters/index.js';
import { diffVulns, vulnKeys, type VulnChange, type VulnKey } from './vulns.js';

export interface UpdaterSettings {
  names?: string[];
  baseUrls?: Record<string, string>;
  proxy?: string;
  airgap?: boolean;
}

export class Rematcher {
  constructor(
    private readonly advisories: AdvisoryStore,
    private readonly reports: ReportStore,
    private readonly matcher: MatchService,
    private readonly opts: {
      now: () => number;
      log: ScannerLogger;
      notifier?: Notifier;
      updaters?: UpdaterSettings;
      remote: boolean;
      /** Told what a re-match newly found or lost (repository notifications: vulnerability_found). Errors are logged. */
      onRematch?: (changes: VulnChange[]) => Promise<unknown>;
    },
  ) {}

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
        this.opts.log.info({ updater: u.name, result: r }, 'updater run');
      } catch (err) {
        this.opts.log.error({ updater: u.name, error: (err as Error).message }, 'updater failed; its previous data is kept');
        if (names) throw err;
      }
    }
    if (changed) await this.rematchAll();
    return results;
  }

  /** Call after an import that changed data (air-gap import, `replaceUpdater`): re-match and notify. */
  async rematchAll(): Promise<{ manifests: number; notifications: number }> {
    this.matcher.clear();
    const digests = await this.reports.indexedDigests();
    const changes: VulnChange[] = [];
    for (const digest of digests) {
      const c = await this.record(digest, true);
      if (c.added.length || c.removed.length) changes.push({ manifest: digest, ...c });
    }
    let notifications = 0;
    if (changes.length && this.opts.onRematch) {
      await this.opts
        .onRematch(changes)
        .catch((err) => this.opts.log.error({ err: (err as Error).message }, 'repository notifications for new vulnerabilities failed'));
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
  async record(digest: string, diff: boolean): Promise<{ added: VulnKey[]; removed: VulnKey[] }> {
    const none = { added: [], removed: [] };
    if (this.opts.remote) return none; // the external scanner's notifier does this
    const s = await this.reports.get(digest);
    if (!s || s.state !== 'indexed') return none;
    const keys = vulnKeys(await this.matcher.matchReport(s));
    const before = await this.reports.vulnSet(digest);
    await this.reports.putVulnSet(digest, keys, this.opts.now());
    if (!diff || !before) return none;
    return diffVulns(before, keys);
  }
}
